"""The solution, compiled once at `podium load` time into a form that scores uploads fast.

``compile_solution`` checks the instructor's CSV and writes, under ``dest_dir``:

- ``solution.arrow``: an uncompressed Arrow IPC file, memory-mapped when opened, with the id column, ``Usage`` as
  int8 codes (0 Public, 1 Private, 2 Ignored) and the typed target columns, rows in key order (integer ids
  ascending; string ids by a 64-bit hash of their bytes);
- ``id_words.npy`` and ``id_hashes.npy`` for string ids (their padded bytes and sorted hashes);
- ``manifest.json``: columns, kinds, counts per Usage, the metric's target type and the sha256 of the source,
  written last so that a directory with a manifest is complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from podium.scoring.csvtext import CsvProblem, RowLines, block_size, check_utf8, parse_header, read_arrow_csv, \
    scan_rows, text_start, wrong_width_message
from podium.scoring.errors import SolutionError
from podium.scoring.keys import IdIndex, as_array, id_mismatches, repeated_values
from podium.scoring.targets import canonical_ints, infer_like_pandas, kind_of, null_pandas_na, parse_numbers, try_cast
from podium.scoring.text import MAX_EXAMPLES, examples, header_text, lines_text, plural, quote
from scorers import FrameScorer, ScorerError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLE = "solution.arrow"
USAGE = "Usage"
USAGES = ("Public", "Private", "Ignored")


def scorer_mode(scorer) -> str:
    """How a metric wants its targets: "label", "number", "text", or "frame" for a Kaggle-style metric.py."""
    return "frame" if isinstance(scorer, FrameScorer) else scorer.target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class CompiledSolution:
    """A compiled solution, opened cheaply: the table is memory-mapped, derived arrays are built on first use."""

    def __init__(self, dest_dir: Path, manifest: dict, table: pa.Table, arrays: dict[str, np.ndarray]):
        self.dest_dir, self.manifest, self.table, self._arrays = Path(dest_dir), manifest, table, arrays

    @classmethod
    def open(cls, dest_dir: Path) -> "CompiledSolution":
        dest_dir = Path(dest_dir)
        try:
            manifest = json.loads((dest_dir / MANIFEST).read_text())
            if manifest.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {manifest.get('version')}, expected {FORMAT_VERSION}")
            table = pa.ipc.open_file(pa.memory_map(str(dest_dir / TABLE))).read_all()
            arrays = {name: np.load(dest_dir / f"{name}.npy", mmap_mode="r") for name in manifest["arrays"]}
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise SolutionError(f"the compiled solution in {dest_dir} cannot be opened ({exc}); run `podium load` "
                                f"again to compile it.") from None
        return cls(dest_dir, manifest, table, arrays)

    # what the manifest says
    id_column = property(lambda self: self.manifest["id_column"])
    target_columns = property(lambda self: list(self.manifest["target_columns"]))
    expected_header = property(lambda self: list(self.manifest["header"]))
    target_kinds = property(lambda self: dict(self.manifest["target_kinds"]))
    id_kind = property(lambda self: self.manifest["id_kind"])
    mode = property(lambda self: self.manifest["mode"])
    n_rows = property(lambda self: self.manifest["n_rows"])
    counts = property(lambda self: dict(self.manifest["counts"]))

    def check_scorer(self, scorer) -> None:
        if scorer_mode(scorer) != self.mode:
            raise SolutionError(
                f"the solution was compiled for a metric with {self.mode} targets, but `{scorer.name}` takes "
                f"{scorer_mode(scorer)} targets; run `podium load` again to recompile it.", key="metric")

    @cached_property
    def ids(self) -> pa.Array:
        return as_array(self.table[self.id_column])

    @cached_property
    def index(self) -> IdIndex:
        return IdIndex.load(self.manifest["index"], self.ids, self._arrays)

    @cached_property
    def _usage(self) -> np.ndarray:
        return as_array(self.table[USAGE]).to_numpy()

    def rows(self, usage: str) -> np.ndarray:
        """The stored rows of one Usage ("Public", "Private"), ascending."""
        return self._rows[usage]

    @cached_property
    def _rows(self) -> dict[str, np.ndarray]:
        return {name: np.flatnonzero(self._usage == code) for code, name in enumerate(USAGES)}

    @cached_property
    def _truth(self) -> dict[str, np.ndarray]:
        columns = [column_array(self.table[name]) for name in self.target_columns]
        return {usage: stack([c[self.rows(usage)] for c in columns]) for usage in USAGES[:2]}

    def truth(self, usage: str) -> np.ndarray:
        """The target values of one Usage as an array for a Scorer: shape (n,) or (n, k)."""
        return self._truth[usage]

    def solution_frame(self, usage: str) -> pd.DataFrame:
        """The id and target columns of one Usage as pd.read_csv would type them (a fresh copy each call)."""
        rows = pa.array(self.rows(usage))
        return self.table.select([self.id_column, *self.target_columns]).take(rows).to_pandas()


def column_array(column: pa.ChunkedArray) -> np.ndarray:
    """A column as NumPy: zero-copy for numbers, an object array of str for text."""
    array = as_array(column)
    return array.to_numpy(zero_copy_only=False)


def stack(columns: list[np.ndarray]) -> np.ndarray:
    return columns[0] if len(columns) == 1 else np.column_stack(columns)


# --- compiling ------------------------------------------------------------------------------------------------


def _read_strings(data: bytes, start: int, header: list[str], include: list[str] | None = None) -> pa.Table:
    names = include or header
    return read_arrow_csv(
        data, start,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=block_size(len(header))),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, include_columns=names,
                                             strings_can_be_null=False, null_values=[]),
    )


def _read_csv_text(path: Path, fail) -> tuple[bytes, int, list[str]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot be read ({exc.strerror or exc}).")
    try:
        start = text_start(data)
        check_utf8(data, start)
        return data, start, parse_header(data, start)
    except CsvProblem as problem:
        fail(problem.message)


def _read_table(data: bytes, start: int, header: list[str], fail, include: list[str] | None = None) -> pa.Table:
    try:
        table = _read_strings(data, start, header, include)
    except pa.ArrowException as exc:
        scan = scan_rows(data, len(header), want_lines=False)
        fail(wrong_width_message(scan, header) if scan.n_bad else f"cannot be read as CSV ({exc}).")
    if table.num_rows == 0:
        fail("has a header but no rows.")
    return table


def _rows_with_lines(rows: np.ndarray, values: pa.ChunkedArray, line_of: RowLines) -> str:
    shown = values.take(pa.array(rows[:MAX_EXAMPLES])).to_pylist()
    return examples((f"line {line:,}: {quote(v)}" for v, line in zip(shown, line_of(rows[:MAX_EXAMPLES]))), len(rows))


def _check_rows(table: pa.Table, id_column: str, line_of: RowLines) -> list[str]:
    """The Usage values, empty ids and repeated ids of a solution."""
    problems = []
    usage, ids = table[USAGE], table[id_column]
    bad = np.flatnonzero(~pc.is_in(usage, value_set=pa.array(USAGES)).to_numpy(zero_copy_only=False))
    if len(bad):
        problems.append(f"{plural(len(bad), 'row')} {'has' if len(bad) == 1 else 'have'} a `Usage` other than "
                        f"Public, Private or Ignored: {_rows_with_lines(bad, usage, line_of)}.")
    empty = np.flatnonzero(pc.equal(pc.utf8_trim_whitespace(ids), "").to_numpy(zero_copy_only=False))
    if len(empty):
        problems.append(f"{plural(len(empty), 'row')} {'has' if len(empty) == 1 else 'have'} an empty id "
                        f"(column `{id_column}`), on {lines_text(line_of(empty[:MAX_EXAMPLES]).tolist(), len(empty))}.")
    n_repeated, shown = repeated_values(ids, line_of)
    if n_repeated:
        problems.append(f"{plural(n_repeated, 'id')} {'appears' if n_repeated == 1 else 'appear'} more than "
                        f"once: {examples(shown, n_repeated)}.")
    return problems


def _type_target(name: str, values: pa.ChunkedArray, mode: str, ignored: pa.Array, line_of: RowLines,
                 problems: list[str]) -> pa.ChunkedArray:
    """A target column typed for the metric; Ignored rows are never scored, so their values are not checked."""
    if mode == "frame":
        return infer_like_pandas(null_pandas_na(values))
    if mode == "text":
        return values
    scored_empty = pc.and_(pc.equal(pc.utf8_trim_whitespace(values), ""), pc.invert(ignored))
    empty = np.flatnonzero(scored_empty.to_numpy(zero_copy_only=False))
    if len(empty):
        problems.append(f"column `{name}` is empty on {plural(len(empty), 'scored row')} (Public or Private), on "
                        f"{lines_text(line_of(empty[:MAX_EXAMPLES]).tolist(), len(empty))}.")
        return values
    filled = pc.if_else(ignored, pa.scalar("0"), values)
    if mode == "label":
        ints = try_cast(filled, "int")
        return values if ints is None else ints  # labels that are not all integers stay strings
    numbers = try_cast(filled, "float")
    if numbers is None:
        numbers, bad = parse_numbers(filled, "float")
    else:
        bad = np.flatnonzero(~np.isfinite(as_array(numbers).to_numpy()))
    if len(bad):
        problems.append(f"column `{name}` has {plural(len(bad), 'value')} that {'is' if len(bad) == 1 else 'are'} "
                        f"not finite numbers: {_rows_with_lines(bad, values, line_of)}.")
    return numbers


def compile_solution(solution_csv: Path, id_column: str, scorer, dest_dir: Path) -> CompiledSolution:
    """Check the instructor's solution CSV and write its fast form under ``dest_dir`` (replacing any older one)."""
    solution_csv, dest_dir = Path(solution_csv), Path(dest_dir)

    def fail(message: str):
        raise SolutionError(f"{solution_csv.name}: {message}", key="solution")

    data, start, header = _read_csv_text(solution_csv, fail)
    found = ", ".join(quote(name) for name in header)
    repeated = sorted(name for name, n in Counter(header).items() if n > 1)
    if repeated:
        fail(f"the column {', '.join(quote(n) for n in repeated)} appears more than once in the header.")
    if id_column not in header:
        fail(f"the id column {quote(id_column)} (evaluation.id_column) is missing; the columns found are {found}.")
    if USAGE not in header:
        fail(f"the column `Usage` is missing (it says which rows are Public, Private or Ignored); the columns "
             f"found are {found}.")
    targets = [name for name in header if name not in (id_column, USAGE)]
    if not targets:
        fail(f"there is no target column beside {quote(id_column)} and `Usage`.")

    table = _read_table(data, start, header, fail)
    line_of = RowLines(data, start, table.num_rows, len(header))
    problems = _check_rows(table, id_column, line_of)
    if problems:
        fail(" ".join(problems))

    usage = pc.cast(pc.index_in(table[USAGE], value_set=pa.array(USAGES)), pa.int8())
    counts = {name: int(pc.sum(pc.equal(usage, code)).as_py() or 0) for code, name in enumerate(USAGES)}
    if not counts["Public"] or not counts["Private"]:
        fail(f"needs at least one Public and one Private row; found {counts['Public']:,} Public, "
             f"{counts['Private']:,} Private and {counts['Ignored']:,} Ignored.")

    mode = scorer_mode(scorer)
    ignored = as_array(pc.equal(usage, 2))
    typed = {name: as_array(_type_target(name, table[name], mode, ignored, line_of, problems)) for name in targets}
    if problems:
        fail(" ".join(problems))
    ids = as_array(table[id_column])
    ints = canonical_ints(ids)
    ids = ids if ints is None else ints

    order, index_meta, arrays = IdIndex.order(ids)
    take = pa.array(order)
    compiled = pa.table({id_column: ids.take(take), USAGE: as_array(usage).take(take),
                         **{name: typed[name].take(take) for name in targets}})
    manifest = {
        "version": FORMAT_VERSION,
        "source": {"name": solution_csv.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)},
        "id_column": id_column,
        "id_kind": kind_of(ids.type),
        "target_columns": targets,
        "target_kinds": {name: kind_of(typed[name].type) for name in targets},
        "header": [id_column, *targets],
        "mode": mode,
        "n_rows": compiled.num_rows,
        "counts": counts,
        "index": index_meta,
        "arrays": sorted(arrays),
    }
    _check_metric_is_defined(CompiledSolution(dest_dir, manifest, compiled, arrays), scorer, fail)
    _write_atomically(dest_dir, compiled, arrays, manifest)
    return CompiledSolution.open(dest_dir)


def _check_metric_is_defined(solution: CompiledSolution, scorer, fail) -> None:
    """Score the truth against itself: a built-in metric that refuses the solution (a single class in a split
    for roc_auc, empty references for cer) would otherwise fail for every student."""
    if isinstance(scorer, FrameScorer):
        return
    for usage in USAGES[:2]:
        try:
            scorer(solution.truth(usage), solution.truth(usage))
        except ScorerError as exc:
            fail(f"the metric `{scorer.name}` cannot score the {usage} rows: {exc}")


def _write_atomically(dest_dir: Path, table: pa.Table, arrays: dict[str, np.ndarray], manifest: dict) -> None:
    """Write into a sibling folder, then swap it in: a reader never sees half a solution."""
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.", dir=dest_dir.parent))
    try:
        with pa.OSFile(str(staging / TABLE), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table.combine_chunks())
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", np.ascontiguousarray(array))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        retired = None
        if dest_dir.exists():
            retired = dest_dir.with_name(f".{dest_dir.name}.old-{os.getpid()}")
            os.replace(dest_dir, retired)
        os.replace(staging, dest_dir)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def compiled_is_current(solution_csv: Path, dest_dir: Path, *, id_column: str | None = None,
                        scorer=None) -> bool:
    """True when ``dest_dir`` holds a complete compilation of this very file (and, if given, this id column and
    a metric with the same target type), so `podium load` can skip compiling again."""
    try:
        manifest = json.loads((Path(dest_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("version") != FORMAT_VERSION or not (Path(dest_dir) / TABLE).exists():
        return False
    if id_column is not None and manifest.get("id_column") != id_column:
        return False
    if scorer is not None and manifest.get("mode") != scorer_mode(scorer):
        return False
    try:
        source = Path(solution_csv)
        if source.stat().st_size != manifest["source"]["bytes"]:
            return False
        return file_sha256(source) == manifest["source"]["sha256"]
    except (OSError, KeyError):
        return False


def check_sample_submission(sample_csv: Path, compiled: CompiledSolution) -> None:
    """Refuse a sample submission whose header or ids differ from the solution's: students copy its shape."""
    sample_csv = Path(sample_csv)

    def fail(message: str):
        raise SolutionError(f"{sample_csv.name}: {message}", key="sample_submission")

    data, start, header = _read_csv_text(sample_csv, fail)
    expected = compiled.expected_header
    if header != expected:
        fail(f"expected the header {header_text(expected)} (the solution's columns without `Usage`); found "
             f"{header_text(header)}.")
    table = _read_table(data, start, header, fail, include=[compiled.id_column])
    sample_ids = as_array(table[compiled.id_column])
    solution_ids = compiled.ids
    if compiled.id_kind == "int":
        solution_ids = pc.cast(solution_ids, pa.string())
    if len(sample_ids) == len(solution_ids) and pc.all(pc.is_in(sample_ids, value_set=solution_ids)).as_py() \
            and len(pc.unique(sample_ids)) == len(sample_ids):
        return
    line_of = RowLines(data, start, table.num_rows, len(header))
    problems = id_mismatches(sample_ids, solution_ids, line_of, where="the sample submission")
    fail(f"its ids differ from the solution's ({len(sample_ids):,} rows for {len(solution_ids):,} ids). "
         + " ".join(sentence for _, sentence in problems))
