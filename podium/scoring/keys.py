"""Ids: matching an upload's rows to the solution's rows with whole-array NumPy steps.

The compiled solution keeps its rows in an order chosen for this: integer ids ascending (and, when they are a
dense range, an upload's row positions are simply ``id - first``), string ids by a 64-bit hash of their bytes.
Aligning an upload is then a sort of the upload's keys and one comparison with the stored keys; the exact
diagnostics (which ids are missing, unknown or repeated) only run when that comparison fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from podium.scoring.text import MAX_EXAMPLES, examples, lines_text, plural, quote

_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(32)


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def string_words(strings: pa.Array, n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Each string's UTF-8 bytes zero-padded into ``n_words`` uint64 words, and which strings fit.

    Strings hold no NUL byte (text_start refuses them), so the padded words identify a string exactly.
    """
    strings = strings.cast(pa.string()) if strings.type != pa.string() else strings
    n, width = len(strings), n_words * 8
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32, count=n + 1, offset=strings.offset * 4)
    data_buffer = strings.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    fits = lengths <= width
    out = np.zeros((n, width), dtype=np.uint8)
    if n and lengths.min() == lengths.max() and lengths[0] <= width:
        out[:, : lengths[0]] = data[offsets[0]: offsets[-1]].reshape(n, lengths[0])
    elif n:
        rows = np.flatnonzero(fits)
        row_lengths = lengths[rows]
        within = np.arange(int(row_lengths.sum())) - np.repeat(np.cumsum(row_lengths) - row_lengths, row_lengths)
        source = np.repeat(offsets[:-1][rows], row_lengths) + within
        out[np.repeat(rows, row_lengths), within] = data[source]
    return out.view(np.uint64), fits


def hash_words(words: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash per row (a bijection when there is one word, so short ids never collide)."""
    h = np.full(len(words), seed, dtype=np.uint64)
    for j in range(words.shape[1]):
        h ^= words[:, j]
        h *= _MIX
        h ^= h >> _SHIFT
    return h


@dataclass
class IdIndex:
    """The solution's ids in stored order, and how to put an upload's rows into that order."""

    kind: str  # "dense" (ints first..first+n-1), "sorted" (ints ascending), "hashed" (strings by hash)
    n: int
    first: int = 0
    ids: np.ndarray | None = None
    words: np.ndarray | None = None
    hashes: np.ndarray | None = None
    seed: int = 0

    @staticmethod
    def order(ids: pa.Array) -> tuple[np.ndarray, dict, dict[str, np.ndarray]]:
        """At compile time: the stored order of the solution rows, the index metadata and arrays to keep."""
        if pa.types.is_integer(ids.type):
            values = ids.to_numpy()
            order = np.argsort(values, kind="stable")
            ordered = values[order]
            dense = len(values) > 0 and int(ordered[-1]) - int(ordered[0]) == len(values) - 1
            meta = {"kind": "dense", "first": int(ordered[0])} if dense else {"kind": "sorted"}
            return order, meta, {}
        n_words = max(1, -(-int(pc.max(pc.binary_length(ids)).as_py() or 0) // 8))
        words, _ = string_words(ids, n_words)
        for seed in range(16):  # a 64-bit collision between distinct ids is astronomically rare; reseed if so
            hashes = hash_words(words, seed)
            order = np.argsort(hashes, kind="stable")
            ordered = hashes[order]
            if not (ordered[1:] == ordered[:-1]).any():
                break
        meta = {"kind": "hashed", "words": n_words, "seed": seed}
        return order, meta, {"id_words": words[order], "id_hashes": ordered}

    @classmethod
    def load(cls, meta: dict, ids: pa.Array, arrays: dict[str, np.ndarray]) -> "IdIndex":
        if meta["kind"] == "hashed":
            return cls("hashed", len(ids), words=arrays["id_words"], hashes=arrays["id_hashes"], seed=meta["seed"])
        return cls(meta["kind"], len(ids), first=meta.get("first", 0), ids=ids.to_numpy())

    def align(self, upload_ids: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
        """``perm`` such that upload row ``perm[i]`` holds solution row ``i``; None unless the upload's ids are
        exactly the solution's, each once."""
        if len(upload_ids) != self.n:
            return None
        if self.kind == "dense":
            positions = as_array(upload_ids).to_numpy() - self.first
            if positions.min() < 0 or positions.max() >= self.n:
                return None
            perm = np.full(self.n, -1, dtype=np.intp)
            perm[positions] = np.arange(self.n)
            return perm if perm.min() >= 0 else None  # every slot filled once: a bijection
        if self.kind == "sorted":
            values = as_array(upload_ids).to_numpy()
            perm = np.argsort(values)
            return perm if np.array_equal(values[perm], self.ids) else None
        words, fits = string_words(as_array(upload_ids), self.words.shape[1])
        if not fits.all():
            return None
        hashes = hash_words(words, self.seed)
        perm = np.argsort(hashes)
        if not np.array_equal(hashes[perm], self.hashes):
            return None
        return perm if np.array_equal(np.take(words, perm, axis=0), self.words) else None  # exact, not just hashes


def align_exactly(upload_ids: pa.Array | pa.ChunkedArray, solution_ids: pa.Array) -> np.ndarray:
    """The same ``perm`` as IdIndex.align by hashing every solution id (slower); for ids known to match."""
    return pc.index_in(as_array(solution_ids), value_set=as_array(upload_ids)).to_numpy().astype(np.intp)


def id_mismatches(
    upload_ids: pa.Array | pa.ChunkedArray,
    solution_ids: pa.Array,
    line_of: Callable[[np.ndarray], np.ndarray],
    where: str = "the file",
) -> list[tuple[str, str]]:
    """(code, sentence) for each way the upload's ids differ from the solution's: missing, unknown, repeated."""
    upload_ids, solution_ids = as_array(upload_ids), as_array(solution_ids)
    problems: list[tuple[str, str]] = []

    missing = solution_ids.filter(pc.invert(pc.is_in(solution_ids, value_set=upload_ids)))
    if len(missing):
        first = missing.take(pc.sort_indices(missing)[:MAX_EXAMPLES])
        k = len(missing)
        problems.append(("missing_ids", (
            f"{plural(k, 'id')} of the competition {'is' if k == 1 else 'are'} missing from {where}, "
            f"e.g. {examples((quote(v) for v in first.to_pylist()), k)}."
        )))

    unknown_rows = np.flatnonzero(~pc.is_in(upload_ids, value_set=solution_ids).to_numpy(zero_copy_only=False))
    if len(unknown_rows):
        k = len(unknown_rows)
        shown_rows = unknown_rows[:MAX_EXAMPLES]
        values = upload_ids.take(pa.array(shown_rows)).to_pylist()
        shown = (f"{quote(v)} (line {line:,})" for v, line in zip(values, line_of(shown_rows)))
        problems.append(("unknown_ids", (
            f"{plural(k, 'row')} of {where} {'has an id' if k == 1 else 'have ids'} that {'is' if k == 1 else 'are'} "
            f"not in the competition, e.g. {examples(shown, k)}."
        )))

    n_repeated, shown = repeated_values(upload_ids, line_of)
    if n_repeated:
        problems.append(("duplicate_ids", (
            f"{plural(n_repeated, 'id')} {'appears' if n_repeated == 1 else 'appear'} more than once in {where}, "
            f"e.g. {examples(shown, n_repeated)}; each id must have exactly one row."
        )))
    return problems


def repeated_values(values: pa.Array | pa.ChunkedArray, line_of: Callable[[np.ndarray], np.ndarray]
                    ) -> tuple[int, list[str]]:
    """How many values occur more than once, and the first few as "`17` (lines 19, 2001)"."""
    counts = pc.value_counts(values)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    shown = []
    for value in repeated[:MAX_EXAMPLES]:
        rows = np.flatnonzero(pc.equal(values, value).to_numpy(zero_copy_only=False))
        shown.append(f"{quote(value.as_py())} ({lines_text(line_of(rows[:MAX_EXAMPLES]).tolist(), len(rows))})")
    return len(repeated), shown
