"""Column types: how ids and targets are typed in a compiled solution and parsed in an upload.

A column has a *kind*: "int" (int64), "float" (float64), "str" or "bool". A built-in scorer fixes the kind of its
targets through ``scorer.target``; a Kaggle-style metric gets columns typed as ``pd.read_csv`` would type them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from podium.scoring.text import examples, lines_text, plural, quote

ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}

# pd.read_csv's default na_values: a Kaggle-style metric sees these as NaN.
PANDAS_NA = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]

WHAT = {"int": "integer", "float": "number"}


def kind_of(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    return "str"


def try_cast(values: pa.ChunkedArray | pa.Array, kind: str) -> pa.ChunkedArray | pa.Array | None:
    try:
        return pc.cast(values, ARROW_TYPES[kind])
    except pa.ArrowException:
        return None


def canonical_ints(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """The values as int64 when every one is an integer written canonically (``7``, not ``007`` or ``+7``)."""
    ints = try_cast(values, "int")
    if ints is None or not pc.all(pc.equal(pc.cast(ints, pa.string()), values)).as_py():
        return None
    return ints


def infer_like_pandas(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Type a string column as pd.read_csv would: int64, else float64, else bool, else str (nulls stay nulls)."""
    for kind in ("int", "float"):
        typed = try_cast(values, kind)
        if typed is not None:
            return typed
    lowered = pc.utf8_lower(values)
    if values.null_count < len(values) and pc.all(pc.is_in(lowered, value_set=pa.array(["true", "false"]))).as_py():
        return pc.equal(lowered, "true")
    return values


def null_pandas_na(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Turn the strings pd.read_csv reads as NaN into nulls."""
    is_na = pc.is_in(values, value_set=pa.array(PANDAS_NA))
    return pc.if_else(is_na, pa.scalar(None, pa.string()), values)


def parse_numbers(values: pa.ChunkedArray | pa.Array, kind: str) -> tuple[pa.Array, np.ndarray]:
    """Parse a string column leniently (``1.0`` is the integer 1, `` 5`` is 5); returns the typed column (nulls
    kept, values that do not parse replaced by 0) and the rows whose value is not a finite number, or not an
    integer for kind "int"."""
    texts = values.to_numpy(zero_copy_only=False)
    is_null = pd.isna(texts)
    numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy()
    if kind == "int" and numbers.dtype.kind in "iu":
        return pa.array(numbers.astype(np.int64), mask=is_null), np.zeros(0, dtype=np.int64)
    floats = numbers.astype(np.float64)
    bad = ~np.isfinite(floats)
    if kind == "int":
        with np.errstate(invalid="ignore"):
            bad |= (floats != np.round(floats)) | (np.abs(floats) >= 2.0**63)
        bad &= ~is_null
        floats[bad | is_null] = 0
        return pa.array(floats.astype(np.int64), mask=is_null), np.flatnonzero(bad)
    bad &= ~is_null
    floats[bad] = 0
    return pa.array(floats, mask=is_null), np.flatnonzero(bad)


def _not_what(kind: str, role: str, k: int) -> str:
    if kind == "float":
        return "a finite number" if k == 1 else "finite numbers"
    noun = {"id": "integer id", "label": "integer class label"}.get(role, "integer")
    return f"an {noun}" if k == 1 else f"{noun}s"


def bad_values_sentence(column: str, kind: str, role: str, values: list, lines: np.ndarray, total: int) -> str:
    """"Column `label` has 2 values that are not integer class labels, e.g. line 4: `cat`, line 9: `1.5`."""
    items = (f"line {line:,}: {quote(v)}" for v, line in zip(values, lines))
    return (f"Column `{column}` has {plural(total, 'value')} that {'is' if total == 1 else 'are'} not "
            f"{_not_what(kind, role, total)}, e.g. {examples(items, total)}.")


def empty_sentence(column: str, lines: np.ndarray, total: int) -> str:
    return f"Column `{column}` has {plural(total, 'empty value')}, on {lines_text(lines.tolist(), total)}."
