"""Code similarity between students: the one module that speaks to copydetect.

copydetect (https://github.com/blingenf/copydetect) tokenizes code with Pygments, replaces names, strings and the
like by one letter each (so renaming variables hides nothing), drops comments and white space, and fingerprints
what is left by hashing every k-gram (Stanford's MOSS method, `winnowing`). Its own detector reads files from
folders and compares every pair of files in full; a course's report needs less and must be quick:

- `rank_pairs` fingerprints each student's code once (copydetect's `filter_code`, `hashed_kgrams`, `winnow`),
  takes away the fingerprints of the starter code every student received, and of code that most of the class
  shares (idioms any solution has), and counts the fingerprints each pair shares, all pairs at once, as one sparse
  product. The ranking is by the share of one student's fingerprints found in the other's code: a student who
  copied a part of a longer solution ranks as high as two identical ones.
- for the pairs it returns (the ones a reader is shown), it marks the parts of each side's files found in the
  other's, file against file as copydetect's `compare_files` does (`find_fingerprint_overlap`,
  `get_copied_slices`, and the offsets back to the file's own text); `marked_files` puts the marks on the texts
  for the side-by-side view.

Notebooks are reduced to their code cells (`code_files`); files that are not code (data, models, images) are left
out. Python's `hash` of a string differs from process to process, so fingerprints are compared only within the
process that made them; worker processes only tokenize.

copydetect imports matplotlib (for its HTML report), a second's work: it is imported on first use only.
"""
from __future__ import annotations

import builtins
import json
import keyword
import multiprocessing
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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
    except (ValueError, KeyError, TypeError):
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
# dropped), with one regular expression instead of Pygments' lexer: the same kind of text to fingerprint, twenty
# times faster, which is what lets a class of 300 be compared in seconds rather than minutes (bench/integrity.py).
# Other languages go through copydetect's own filter.
PYTHON_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<name>[^\W\d]\w*)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)
KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
PYTHON_SUFFIXES = (".py", NOTEBOOK)


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
        if self.spans is not None:
            return [(int(s), int(e)) for s, e in zip(self.spans[0][slices[0]], self.spans[1][slices[1] - 1])]
        offsets = self.offsets
        if offsets is not None and len(offsets) > 0:  # as copydetect's compare_files maps them
            slices = slices + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)]
        return [(int(s), int(e)) for s, e in zip(slices[0], slices[1])]


def _filtered_python(text: str) -> tuple[str, Way]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    previous = ""
    for match in PYTHON_TOKENS.finditer(text):
        kind, start, end = match.lastgroup, match.start(), match.end()
        if kind in ("comment", "space"):
            continue
        token = match.group()
        word = token if kind == "name" else ""
        if kind == "string":
            token = "S"
        elif kind == "name" and token not in KEPT_NAMES:
            token = "F" if previous == "def" else "O" if previous == "class" else "V"
        previous = word
        out.append(token)
        if len(token) == 1 and end - start > 1:  # a name or string in one letter: it stands for all of it
            starts.append(start)
            ends.append(end)
        else:
            starts.extend(range(start, end))
            ends.extend(range(start + 1, end + 1))
    return "".join(out), Way(spans=np.array([starts, ends], dtype=np.int64).reshape(2, -1))


def _filtered_file(file: CodeFile) -> tuple[str, Way]:
    """A file filtered for fingerprints, with the way back to its own text."""
    if file.name.lower().endswith(PYTHON_SUFFIXES):
        return _filtered_python(file.text)
    filtered, offsets = _utils().filter_code(file.text, file.name, file.language)
    return filtered, Way(offsets=offsets)


def _fingerprints(filtered: str) -> np.ndarray:
    """The distinct fingerprints of one filtered text, sorted."""
    utils = _utils()
    if len(filtered) < K:
        return np.array([], dtype=np.int64)
    hashes, _ = utils.winnow(utils.hashed_kgrams(filtered, K), WINDOW, remove_duplicates=True)
    return hashes.astype(np.int64)


def fingerprints_of(files: Sequence[CodeFile]) -> np.ndarray:
    """The distinct fingerprints of several files (the starter code, or one student's), sorted."""
    return _union([_fingerprints(_filtered_file(f)[0]) for f in files])


def _union(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype=np.int64)


def _filter_all(files: list[CodeFile], workers: int, step: Callable[[], None]) -> Iterable[tuple[str, Way]]:
    """Every file filtered, in order; tokenizing is the costly part, so with `workers` > 1 it runs in that many
    fresh processes (spawned: a fork of a threaded web server may hang)."""
    if workers <= 1 or len(files) < 2 * workers:
        for file in files:
            yield _filtered_file(file)
            step()
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for result in pool.map(_filtered_file, files, chunksize=4):
            yield result
            step()


@dataclass
class _Filtered:
    """One file as copydetect compares it: filtered text, the way back to the file's text, fingerprints."""

    name: str
    filtered: str
    way: Way
    prints: np.ndarray


def _filter_students(students: Mapping[Student, Sequence[CodeFile]], workers: int,
                     progress: Callable[[int, int], None] | None) -> dict[Student, list[_Filtered]]:
    owners = [student for student, files in students.items() for _ in files]
    files = [file for files in students.values() for file in files]
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(files))

    out: dict[Student, list[_Filtered]] = {student: [] for student in students}
    for owner, file, (filtered, way) in zip(owners, files, _filter_all(files, workers, step)):
        out[owner].append(_Filtered(file.name, filtered, way, _fingerprints(filtered)))
    return out


def rank_pairs(students: Mapping[Student, Sequence[CodeFile]], boilerplate: Sequence[CodeFile] = (), *,
               limit: int | None = 100, workers: int = 1, progress: Callable[[int, int], None] | None = None
               ) -> list[CodePair[Student]]:
    """Pairs of students who share code, most similar first (ties: more fingerprints shared), at most `limit`,
    each with the parts of each side's files found in the other's (for the side-by-side view).

    The starter code (`boilerplate`) every student received is left out first, then fingerprints found in more
    than half the students' code (COMMON_SHARE, when that is more than COMMON_AT_LEAST students): what a whole class
    writes alike is no sign of copying. `progress(done, total)` follows the files tokenized, the long part.
    """
    keys = list(students)
    if len(keys) < 2:
        return []
    starter = fingerprints_of(boilerplate)
    filtered = _filter_students(students, workers, progress)
    rows = [np.setdiff1d(_union([f.prints for f in filtered[key]]), starter, assume_unique=True) for key in keys]
    shared, sizes, common = _shared_counts(rows)
    left_out = set(starter.tolist()) | set(common.tolist())
    indexes: dict[Student, list] = {}  # each student's files indexed once, however many pairs they are in

    def index(student: Student) -> list:
        if student not in indexes:
            indexes[student] = [_index(f, left_out) for f in filtered[student]]
        return indexes[student]

    return [_with_marks(pair, filtered[pair.a], filtered[pair.b], index(pair.a), index(pair.b))
            for pair in _ranked(keys, shared, sizes, limit)]


def _shared_counts(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every two students, how many fingerprints both have, each student's count, and the common fingerprints
    left out: one sparse students x fingerprints matrix times its transpose."""
    from scipy import sparse

    n = len(rows)
    lengths = np.array([len(r) for r in rows])
    if not lengths.sum():
        return np.zeros((n, n), dtype=np.int64), lengths, np.array([], dtype=np.int64)
    values, columns = np.unique(np.concatenate(rows), return_inverse=True)
    owners = np.repeat(np.arange(n), lengths)
    students_with = np.bincount(columns, minlength=len(values))
    common = students_with > max(COMMON_AT_LEAST, COMMON_SHARE * n)
    keep = ~common[columns]
    matrix = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (owners[keep], columns[keep])),
                               shape=(n, len(values)))
    shared = (matrix @ matrix.T).toarray().round().astype(np.int64)
    return shared, np.diag(shared).copy(), values[common]


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


def _index(file: _Filtered, left_out: set[int]) -> tuple[set[int], dict[int, list[int]]]:
    """copydetect's fingerprints of one file with where each is, without those `left_out`."""
    hashes, where = _utils().get_document_fingerprints(file.filtered, K, WINDOW)
    if left_out:
        hashes = hashes - left_out
        where = {h: i for h, i in where.items() if h in hashes}
    return hashes, where


def _with_marks(pair: CodePair, files_a: list[_Filtered], files_b: list[_Filtered], index_a: list, index_b: list
                ) -> CodePair:
    utils = _utils()
    spans_a: list[list[tuple[int, int]]] = [[] for _ in files_a]
    spans_b: list[list[tuple[int, int]]] = [[] for _ in files_b]
    for i, (hashes_a, where_a) in enumerate(index_a):
        for j, (hashes_b, where_b) in enumerate(index_b):
            if not hashes_a & hashes_b:
                continue
            at_a, at_b = utils.find_fingerprint_overlap(hashes_a, hashes_b, where_a, where_b)
            spans_a[i] += files_a[i].way.back(np.asarray(utils.get_copied_slices(at_a, K)))
            spans_b[j] += files_b[j].way.back(np.asarray(utils.get_copied_slices(at_b, K)))
    return CodePair(pair.a, pair.b, pair.shared, pair.share_a, pair.share_b,
                    tuple((f.name, _merged(s)) for f, s in zip(files_a, spans_a) if s),
                    tuple((f.name, _merged(s)) for f, s in zip(files_b, spans_b) if s))


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
