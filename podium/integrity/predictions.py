"""Predictions that agree too well: pairs of students who give the same wrong answers, and identical files.

Two students who work alone still share wrong answers: some rows are hard for everyone, and on a row with two
classes every wrong answer is the same one. What independent work does not give is *many more* identical wrong
answers than those chances explain. For every pair (a, b), on the Private rows:

- observed: the rows both got wrong with the same answer;
- expected, were their errors independent: the sum over rows of P(a wrong on the row) * P(b wrong on the row) *
  P(two wrong answers on the row are the same), where a student's chance of being wrong on a row is their error
  rate scaled by how hard the row is for the class (the share of students wrong on it, against the average), and
  the chance that two wrong answers agree is read off the class's wrong answers on that row;
- surprise: how unlikely so many shared wrong answers are when `expected` is the Poisson mean, as the Chernoff
  bound on its upper tail, in powers of ten: 12 means less likely than one in 10^12.

Pairs are ranked by surprise. Predictions are compared exactly (a label, a number, a text); for a metric on
probabilities a "wrong" answer is any other value than the truth, so a pair ranks high only by giving the very same
numbers, which is itself the sign of a copy. NumPy and SciPy's sparse matrices only: nothing of the platform.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

Student = TypeVar("Student", bound=Hashable)
MIN_EXPECTED = 0.01  # a pair's expected count is at least this: no answer is ever certain to be unique


@dataclass(frozen=True)
class AgreementPair(Generic[Student]):
    a: Student
    b: Student
    shared_wrong: int  # Private rows both got wrong with the same answer
    expected: float  # what independent errors would give
    surprise: float  # -log10 of the chance of at least `shared_wrong` such rows, were the errors independent
    wrong_a: int  # Private rows a got wrong
    wrong_b: int

    @property
    def ratio(self) -> float:
        return self.shared_wrong / self.expected


def _codes(truth: np.ndarray, predictions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Truth (n,) and predictions (students, n) as integer codes, equal where the values are equal; a row of
    several target columns is one value."""
    everything = np.stack([np.asarray(truth), *map(np.asarray, predictions)])
    if everything.ndim == 3:  # (1 + students, n, columns): one code per distinct row of values
        per_column = [_codes_of(everything[:, :, c]) for c in range(everything.shape[2])]
        combined = np.stack(per_column, axis=-1).reshape(-1, len(per_column))
        _, flat = np.unique(combined, axis=0, return_inverse=True)
        codes = flat.reshape(everything.shape[:2])
    else:
        codes = _codes_of(everything)
    return codes[0], codes[1:]


def _codes_of(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:  # text: compared as strings
        values = values.astype(str)
    _, flat = np.unique(values.reshape(-1), return_inverse=True)
    return flat.reshape(values.shape)


def agreement_pairs(predictions: Mapping[Student, np.ndarray], truth: np.ndarray, *, limit: int | None = 100
                    ) -> list[AgreementPair[Student]]:
    """Pairs that share more wrong answers than independent errors explain, most surprising first, at most
    `limit`; only pairs with at least one shared wrong answer and more than expected. `predictions` are aligned
    to `truth` row for row (the Private rows)."""
    keys = list(predictions)
    if len(keys) < 2 or len(truth) == 0:
        return []
    truth_codes, codes = _codes(truth, [predictions[k] for k in keys])
    wrong = codes != truth_codes[None, :]
    observed = _shared_wrong(codes, wrong)
    expected = _expected_shared_wrong(codes, wrong)
    n_wrong = wrong.sum(axis=1)
    a, b = np.triu_indices(len(keys), k=1)
    seen, chance = observed[a, b], expected[a, b]
    found = seen > chance
    a, b, seen, chance = a[found], b[found], seen[found], chance[found]
    surprise = _surprises(seen, chance)
    order = np.lexsort((-seen, -surprise))  # every pair at once; objects only for those kept
    if limit is not None:
        order = order[:limit]
    return [AgreementPair(keys[a[i]], keys[b[i]], int(seen[i]), float(chance[i]), float(surprise[i]),
                          int(n_wrong[a[i]]), int(n_wrong[b[i]])) for i in order]


def _wrong_answers(codes: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every wrong answer as (student, row, answer id), the answer id one per distinct (row, answer)."""
    students, rows = np.nonzero(wrong)
    key = rows.astype(np.int64) * (int(codes.max()) + 1) + codes[students, rows]
    _, answer = np.unique(key, return_inverse=True)
    return students, rows, answer.reshape(-1)


def _shared_wrong(codes: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """For every two students, the rows both got wrong with the same answer: a students x (row, answer) matrix of
    their wrong answers times its transpose."""
    from scipy import sparse

    students, _, answer = _wrong_answers(codes, wrong)
    matrix = sparse.csr_matrix((np.ones(len(students), dtype=np.float32), (students, answer)),
                               shape=(codes.shape[0], int(answer.max()) + 1 if len(answer) else 0))
    shared = (matrix @ matrix.T).toarray().round().astype(np.int64)
    np.fill_diagonal(shared, 0)
    return shared


def _expected_shared_wrong(codes: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """What independent errors would give: sum over rows of P(a wrong) P(b wrong) P(same wrong answer)."""
    rate = wrong.mean(axis=1)  # each student's error rate
    hardness = wrong.mean(axis=0)  # each row's share of students wrong on it
    mean = hardness.mean()
    if mean == 0:
        return np.zeros((wrong.shape[0], wrong.shape[0]))
    p_wrong = np.clip(np.outer(rate, hardness / mean), 0.0, 1.0)
    same = _same_answer_chance(codes, wrong)
    return (p_wrong * same[None, :]) @ p_wrong.T


def _same_answer_chance(codes: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Per row, the chance that two different students wrong on it gave the same wrong answer, read off the class:
    the sum over answers of c (c - 1) / (w (w - 1)), for c students giving an answer among the w wrong."""
    _, rows, answer = _wrong_answers(codes, wrong)
    if not len(answer):
        return np.zeros(wrong.shape[1])
    givers = np.bincount(answer).astype(float)  # students giving each distinct wrong answer
    row_of = np.zeros(len(givers), dtype=np.int64)
    row_of[answer] = rows
    pairs_same = np.bincount(row_of, weights=givers * (givers - 1), minlength=wrong.shape[1])
    w = wrong.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w > 1, pairs_same / (w * (w - 1)), 0.0)


def _surprises(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 of the Chernoff bound on P(X >= observed) for X ~ Poisson(expected), per pair: 0 when observed <=
    expected."""
    expected = np.maximum(expected, MIN_EXPECTED)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (observed * np.log(observed / expected) - observed + expected) / math.log(10)
    return np.where(observed > expected, bound, 0.0)


def identical_files(shas: Mapping[Student, set[str] | frozenset[str]]) -> list[tuple[str, tuple[Student, ...]]]:
    """Files (by sha256) uploaded by more than one student, with who uploaded each, most students first."""
    by_sha: dict[str, list[Student]] = defaultdict(list)
    for student, digests in shas.items():
        for sha in digests:
            by_sha[sha].append(student)
    groups = [(sha, tuple(students)) for sha, students in by_sha.items() if len(students) > 1]
    return sorted(groups, key=lambda g: (-len(g[1]), g[0]))
