"""Code similarity between students: the one module that speaks to copydetect.

copydetect (https://github.com/blingenf/copydetect) tokenizes code with Pygments, replaces names, strings and the
like by one letter each (so renaming variables hides nothing), drops comments and white space, and fingerprints
what is left by hashing every k-gram (Stanford's MOSS method, `winnowing`). Its own detector reads files from
folders and compares every pair of files in full; a course's report needs less and must be quick:

- `rank_pairs` fingerprints each student's code once, as copydetect does (filtered as its `filter_code` filters,
  every k-gram hashed as its `hashed_kgrams` hashes, kept whole as its `winnow` keeps them with its default
  window), but with NumPy over whole files, takes away the fingerprints of the starter code every student
  received, and of code that most of the class shares (idioms any solution has), and counts the fingerprints each
  pair shares, all pairs at once, as one sparse product. The ranking is by the share of one student's fingerprints
  found in the other's code: a student who copied a part of a longer solution ranks as high as two identical ones.
- for the pairs it returns (the ones a reader is shown), it marks the parts of each side's files found in the
  other's code, as copydetect's `compare_files` does (the positions of shared fingerprints, joined into slices by
  its `get_copied_slices`, and mapped back to the file's own text); `marked_files` puts the marks on the texts
  for the side-by-side view.

Notebooks are reduced to their code cells (`code_files`); files that are not code (data, models, images) are left
out. Python is filtered here (`PYTHON_TOKENS`), other languages by copydetect's `filter_code` (Pygments).

copydetect imports matplotlib (for its HTML report), a second's work: it is imported on first use only.
"""
from __future__ import annotations

import builtins
import json
import keyword
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Generic, TypeVar

import numpy as np

K = 25  # copydetect's noise threshold: matches shorter than 25 characters of filtered code are ignored
WINDOW = 1  # copydetect's default (guarantee threshold = noise threshold): every k-gram is a fingerprint
MIN_FINGERPRINTS = 50  # a share is of at least this many fingerprints, so that a few lines never rank first
COMMON_SHARE = 0.5  # fingerprints in more than this share of the students' code are common code, not copying...
COMMON_AT_LEAST = 4  # ... when that is more than this many students
MAX_FILE_CHARS = 1_000_000  # a longer "code" file is generated or data: left out

# What counts as code: the languages a course's code is written in, as Pygments names them by file name.
CODE_SUFFIXES = frozenset({
    ".py", ".ipynb", ".r", ".jl", ".m", ".c", ".h", ".cc", ".cpp", ".hpp", ".cu", ".java", ".scala", ".kt",
    ".js", ".ts", ".go", ".rs", ".sh", ".lua", ".swift",
})
NOTEBOOK = ".ipynb"

Student = TypeVar("Student", bound=Hashable)


@dataclass(frozen=True)
class CodeFile:
    name: str  # the member's path inside the upload (or the uploaded file's name)
    text: str  # a notebook's code cells only

    @property
    def language(self) -> str | None:
        """The Pygments language when the name does not tell it (a notebook's code cells are Python)."""
        return "python" if self.name.lower().endswith(NOTEBOOK) else None


# --- what is code --------------------------------------------------------------------------------------------


def is_code(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in CODE_SUFFIXES


def notebook_code(raw: bytes) -> str | None:
    """A Jupyter notebook's code cells, one after the other, each under a `# %% [n]` line (a comment, which the
    fingerprints ignore); None when it is not a notebook's JSON."""
    try:
        notebook = json.loads(raw.decode("utf-8", errors="replace"))
        cells = notebook["cells"] if isinstance(notebook, dict) else None
    except (ValueError, KeyError, TypeError, RecursionError):  # nested JSON in an archive is no notebook either
        return None
    if not isinstance(cells, list):
        return None
    parts = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source)
        parts.append(f"# %% [{len(parts) + 1}]\n{text.rstrip()}\n")
    return "\n".join(parts)


def code_text(name: str, raw: bytes) -> str | None:
    """The text of one member as the comparison reads it, or None when it is not code: another kind of file,
    binary, or too long to be hand-written."""
    if not is_code(name) or b"\0" in raw[:8192]:
        return None
    text = notebook_code(raw) if name.lower().endswith(NOTEBOOK) else raw.decode("utf-8", errors="replace")
    if text is None or len(text) > MAX_FILE_CHARS or not text.strip():
        return None
    return text


def code_files(members: Iterable[tuple[str, bytes]]) -> list[CodeFile]:
    """The code among an upload's members (name, raw bytes), in name order."""
    found = [CodeFile(name, text) for name, raw in members if (text := code_text(name, raw)) is not None]
    return sorted(found, key=lambda f: f.name)


# --- ranking every pair ---------------------------------------------------------------------------------------

Spans = tuple[tuple[int, int], ...]  # [start, end) character offsets in a file's text, sorted, not overlapping


@dataclass(frozen=True)
class CodePair(Generic[Student]):
    a: Student
    b: Student
    shared: int  # fingerprints found in both students' code (starter and common code left out)
    share_a: float  # the share of a's fingerprints found in b's code
    share_b: float
    marks_a: tuple[tuple[str, Spans], ...] = ()  # per file of a (by name), the parts found in b's code
    marks_b: tuple[tuple[str, Spans], ...] = ()

    @property
    def similarity(self) -> float:
        return max(self.share_a, self.share_b)


def _utils():
    from copydetect import utils  # the package imports matplotlib: on first use only

    return utils


# Python, nearly all of a course's code, is filtered here as copydetect's `filter_code` filters it (names V,
# function names F, class names O, strings S; keywords, builtins, numbers and operators kept; comments and spaces
# dropped), with one regular expression instead of Pygments' lexer: the same kind of text to fingerprint, tens of
# times faster, which is what lets a class of 300 be compared in seconds rather than minutes (bench/integrity.py).
# Only comments, strings and names are tokens (one group: `split` gives the text between tokens and the tokens,
# alternately, without a call back to Python per token); operators and digits stay as they are, and white space is
# dropped after. Other languages go through copydetect's own filter.
PYTHON_TOKENS = re.compile(r"""(
    \#[^\n]*
  | [rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | [^\W\d]\w*
)""", re.VERBOSE)
KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
PYTHON_SUFFIXES = (".py", NOTEBOOK)
# Fingerprints are polynomial hashes of the k-grams' code points modulo 2**64, computed for a whole file at once
# with NumPy (copydetect's `hashed_kgrams` calls Python's `hash` once per position, and that hash differs from
# process to process): the same k-gram gives the same fingerprint everywhere.
BASE = np.uint64(0x100000001B3)


@dataclass(frozen=True)
class Way:
    """The way back from filtered text to the file's own: for Python, the [start, end) in the file of each
    filtered character (`spans`, shape (2, n)); otherwise copydetect's offsets (`offsets`, shape (n, 2))."""

    spans: np.ndarray | None = None
    offsets: np.ndarray | None = None

    def back(self, slices: np.ndarray) -> list[tuple[int, int]]:
        """Slices [start, end) of filtered text as spans of the file's own text."""
        if slices.shape[1] == 0:
            return []
        slices = slices.astype(np.int64)
        if self.spans is not None:
            return [(int(s), int(e)) for s, e in zip(self.spans[0][slices[0]], self.spans[1][slices[1] - 1])]
        offsets = self.offsets
        if offsets is not None and len(offsets) > 0:  # as copydetect's compare_files maps them
            slices = slices + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)]
        return [(int(s), int(e)) for s, e in zip(slices[0], slices[1])]


def _python_tokens(text: str) -> tuple[list[str], list[str]]:
    """`text` split into the text between tokens and the tokens, alternately, and what each token becomes: a
    comment nothing, a string S, a name kept (keywords, builtins) or V, F after `def`, O after `class`."""
    parts = PYTHON_TOKENS.split(text)
    tokens = parts[1::2]
    out = [t if t in KEPT_NAMES else "" if t[0] == "#" else "S" if t[-1] in "'\"" else "V" for t in tokens]
    for i in [i for i, t in enumerate(tokens) if t == "def" or t == "class"]:
        between = parts[2 * i + 2]
        if i + 1 < len(tokens) and out[i + 1] == "V" and (not between or between.isspace()):
            out[i + 1] = "F" if tokens[i] == "def" else "O"
    return parts, out


def _filtered_python(text: str, way: bool = False) -> tuple[str, Way | None]:
    parts, out = _python_tokens(text)
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)) if way else None
    parts[1::2] = out
    filtered = "".join("".join(parts).split())
    if lengths is None:
        return filtered, None
    return filtered, _python_way(text, lengths, np.fromiter(map(len, out), dtype=np.int64, count=len(out)),
                                 filtered)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _python_way(text: str, lengths: np.ndarray, became: np.ndarray, filtered: str) -> Way:
    """Where each filtered character came from, all characters at once: a character kept stands for itself, a
    name or string made one letter for all of it; comments and white space outside strings are gone. `lengths`:
    of the parts `_python_tokens` split the text into; `became`: of what each token became."""
    n = len(text)
    at = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    starts = at[1::2]
    ends = starts + lengths[1::2]
    end = np.arange(1, n + 1, dtype=np.int64)
    removed = became == 0  # comments: gone whole
    one_letter = (became == 1) & (ends - starts > 1)  # its first character stands for all of it
    end[starts[one_letter]] = ends[one_letter]
    cut_from = np.concatenate([starts[removed], starts[one_letter] + 1])
    cut_to = np.concatenate([ends[removed], ends[one_letter]])
    cut = np.cumsum(np.bincount(cut_from, minlength=n + 1) - np.bincount(cut_to, minlength=n + 1))[:n] > 0
    kept = np.flatnonzero(~cut & ~np.isin(_code_points(text), _white_space()))
    if len(kept) != len(filtered):  # cannot happen: the filter and its way are one reading of the text
        raise AssertionError("the filtered text and its way back differ in length")
    return Way(spans=np.stack([kept, end[kept]]))


@cache
def _white_space() -> np.ndarray:
    """The code points `str.split()` splits on (all below U+3001)."""
    return np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _filtered_file(file: CodeFile, way: bool = False) -> tuple[str, Way | None]:
    """A file filtered for fingerprints, with the way back to its own text when `way` is asked for."""
    if file.name.lower().endswith(PYTHON_SUFFIXES):
        return _filtered_python(file.text, way)
    filtered, offsets = _utils().filter_code(file.text, file.name, file.language)
    return filtered, Way(offsets=offsets)


def _kgram_hashes(filtered: str) -> np.ndarray:
    """The fingerprint of the k-gram at each position of a filtered text (copydetect's `hashed_kgrams`)."""
    points = _code_points(filtered).astype(np.uint64)
    count = len(points) - K + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    for j in range(K):  # Horner's rule over the window, every position at once (wrapping modulo 2**64)
        hashes *= BASE
        hashes += points[j:j + count]
    return hashes


def _fingerprints(filtered: str) -> np.ndarray:
    """The distinct fingerprints of one filtered text, sorted: every k-gram's (WINDOW = 1, copydetect's default
    when the guarantee threshold is the noise threshold, so winnowing keeps them all)."""
    return _distinct(_kgram_hashes(filtered))


def fingerprints_of(files: Sequence[CodeFile]) -> np.ndarray:
    """The distinct fingerprints of several files (the starter code, or one student's), sorted."""
    return _union([_kgram_hashes(_filtered_file(f)[0]) for f in files])


def _union(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return _distinct(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.uint64)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (sorting and comparing neighbours: several times quicker than NumPy 2's
    `unique`, which goes through a hash table)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _within(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Per value, whether it is in `sorted_set` (distinct and sorted): a binary search each, nothing sorted."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _student_fingerprints(students: Mapping[Student, Sequence[CodeFile]],
                          progress: Callable[[int, int], None] | None) -> list[np.ndarray]:
    """Each student's distinct fingerprints, in the mapping's order; `progress` follows the files filtered.
    (In one process: a pool of processes cost more to start and feed than it saved; bench/integrity.py.)"""
    total = sum(len(files) for files in students.values())
    done = 0
    out = []
    for files in students.values():
        hashes = []
        for file in files:
            hashes.append(_kgram_hashes(_filtered_file(file)[0]))
            done += 1
            if progress is not None:
                progress(done, total)
        out.append(_union(hashes))
    return out


def rank_pairs(students: Mapping[Student, Sequence[CodeFile]], boilerplate: Sequence[CodeFile] = (), *,
               limit: int | None = 100, progress: Callable[[int, int], None] | None = None
               ) -> list[CodePair[Student]]:
    """Pairs of students who share code, most similar first (ties: more fingerprints shared), at most `limit`,
    each with the parts of each side's files found in the other's (for the side-by-side view).

    The starter code (`boilerplate`) every student received is left out first, then fingerprints found in more
    than half the students' code (COMMON_SHARE, when that is more than COMMON_AT_LEAST students): what a whole class
    writes alike is no sign of copying. `progress(done, total)` follows the files filtered, the long part.
    """
    keys = list(students)
    if len(keys) < 2:
        return []
    starter = fingerprints_of(boilerplate)
    rows = [np.setdiff1d(prints, starter, assume_unique=True) for prints in _student_fingerprints(students, progress)]
    shared, sizes, common = _shared_counts(rows)
    left_out = np.union1d(starter, common)
    sides: dict[Student, _Student] = {}  # each student's files read once, however many pairs they are in

    def side(student: Student) -> _Student:
        if student not in sides:
            sides[student] = _student_side(students[student], left_out)
        return sides[student]

    return [_with_marks(pair, side(pair.a), side(pair.b)) for pair in _ranked(keys, shared, sizes, limit)]


def _shared_counts(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every two students, how many fingerprints both have, each student's count, and the common fingerprints
    left out. One students x fingerprints matrix times its transpose, with only the fingerprints two to
    `common` students have as columns: a fingerprint of one student alone (nearly all of them) counts in that
    student's size and in no pair."""
    from scipy import sparse

    n = len(rows)
    lengths = np.array([len(r) for r in rows])
    if not lengths.sum():
        return np.zeros((n, n), dtype=np.int64), lengths, np.zeros(0, dtype=np.uint64)
    values, columns, holders = np.unique(np.concatenate(rows), return_inverse=True, return_counts=True)
    owners = np.repeat(np.arange(n), lengths)
    common = holders > max(COMMON_AT_LEAST, COMMON_SHARE * n)
    sizes = np.bincount(owners, weights=~common[columns], minlength=n).astype(np.int64)
    paired = (holders > 1) & ~common
    keep = paired[columns]
    column_of = np.cumsum(paired) - 1
    matrix = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.int32), (owners[keep], column_of[columns[keep]])),
                               shape=(n, int(paired.sum())))
    shared = (matrix @ matrix.T).toarray().astype(np.int64)
    np.fill_diagonal(shared, sizes)
    return shared, sizes, values[common]


def _ranked(keys: list, shared: np.ndarray, sizes: np.ndarray, limit: int | None) -> list[CodePair]:
    floor = np.maximum(sizes, MIN_FINGERPRINTS).astype(float)
    a, b = np.triu_indices(len(keys), k=1)
    counts = shared[a, b]
    found = counts > 0
    a, b, counts = a[found], b[found], counts[found]
    share_a, share_b = counts / floor[a], counts / floor[b]
    order = np.lexsort((-counts, -np.maximum(share_a, share_b)))
    if limit is not None:
        order = order[:limit]
    return [CodePair(keys[a[i]], keys[b[i]], int(counts[i]), float(share_a[i]), float(share_b[i])) for i in order]


# --- the matching parts of one pair ----------------------------------------------------------------------------


@dataclass
class _Side:
    """One file of a student in a shown pair: its k-grams' fingerprints, the ones that count (neither starter
    nor common code), and the way back to its text."""

    name: str
    hashes: np.ndarray  # the fingerprint at each position of the filtered text
    counts: np.ndarray  # bool, per position
    way: Way


def _side(file: CodeFile, left_out: np.ndarray) -> _Side:
    filtered, way = _filtered_file(file, way=True)
    hashes = _kgram_hashes(filtered)
    return _Side(file.name, hashes, ~_within(hashes, left_out), way or Way())


@dataclass
class _Student:
    files: list[_Side]
    prints: np.ndarray  # the distinct fingerprints that count, sorted


def _student_side(files: Sequence[CodeFile], left_out: np.ndarray) -> _Student:
    sides = [_side(file, left_out) for file in files]
    return _Student(sides, _union([f.hashes[f.counts] for f in sides]))


def _with_marks(pair: CodePair, a: _Student, b: _Student) -> CodePair:
    """The pair with, in each file of each side, the parts whose fingerprints are in the other side's code (what
    copydetect's `find_fingerprint_overlap` finds, file against all the other's files at once), as copydetect's
    `get_copied_slices` joins them, mapped back to the file's text."""
    return CodePair(pair.a, pair.b, pair.shared, pair.share_a, pair.share_b, _marks(a, b), _marks(b, a))


def _marks(side: _Student, other: _Student) -> tuple[tuple[str, Spans], ...]:
    utils = _utils()
    out = []
    for file in side.files:
        found = np.flatnonzero(file.counts & _within(file.hashes, other.prints))
        if len(found):
            spans = _merged(file.way.back(np.asarray(utils.get_copied_slices(found, K))))
            if spans:
                out.append((file.name, spans))
    return tuple(out)


def _merged(spans: list[tuple[int, int]]) -> Spans:
    """Overlapping or touching spans as one."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((s, e) for s, e in out)


# --- one pair, side by side -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkedFile:
    name: str
    text: str
    spans: Spans  # the parts found in the other student's code

    @property
    def marked_chars(self) -> int:
        return sum(end - start for start, end in self.spans)

    def pieces(self) -> list[tuple[str, bool]]:
        """The text in order as (piece, marked) pieces, for a page to wrap the marked ones."""
        out, at = [], 0
        for start, end in self.spans:
            if start > at:
                out.append((self.text[at:start], False))
            out.append((self.text[start:end], True))
            at = end
        if at < len(self.text):
            out.append((self.text[at:], False))
        return out


def marked_files(files: Sequence[CodeFile], marks: Iterable[tuple[str, Spans]]) -> tuple[MarkedFile, ...]:
    """One side of a pair: its files with the marks of `CodePair.marks_a` (or `_b`), files with marks first.
    Spans are clipped to the text, so marks kept from another reading never point past it."""
    by_name = {name: spans for name, spans in marks}
    out = [MarkedFile(f.name, f.text, tuple((max(0, s), min(len(f.text), e)) for s, e in by_name.get(f.name, ())
                                           if min(len(f.text), e) > max(0, s)))
           for f in files]
    return tuple(sorted(out, key=lambda f: (not f.spans, f.name)))
