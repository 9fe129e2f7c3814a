"""Scoring benchmark: Podium's score_upload against the pipeline a Kaggle metric author would write.

    .venv/bin/python bench/scoring.py [--rows N] [--auc-rows M]

Two cases, generated once with a fixed seed under bench/.data/ and reused:

- HW1P2: frame-level classification, 2,000,000 rows in shuffled order, ids 0..N-1, 138 classes, 30 % Public and
  70 % Private, metric `accuracy`;
- verification: 900,000 trials with string ids such as "img000123.jpg img004567.jpg", metric `roc_auc`.

Each case prints Podium's time (the solution compiled once; score_upload, median of 5) and the reference's
(pandas reads both files, merges on the id, sklearn scores each Usage split; median of 3), measured in the same
run, then the peak memory of a fresh process that scores one upload, and PASS/MISS per target.

Two more figures check that reading an upload is linear in its size, as ratios within the run: refusing a header
with as many columns as HW1P2 has rows, against scoring the HW1P2 upload; and reading an upload of 2,000 number
columns against one of 200 (500 rows each).

Memory per attempt: for HW1P2 uploads of several sizes (plain and gzip-compressed) and a gzip that inflates to one
value, what scoring one upload adds to a fresh process's resident peak (ru_maxrss after scoring minus before, the
solution already open), divided by the upload's decompressed size. Small uploads add a fixed few tens of MB (thread
pools, allocator arenas), so the bound is read at the largest size: an attempt peaks at about the process's base
plus that many times the decompressed size, which is what PODIUM_SCORING_MEMORY_MB is sized from.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
SEED = 11785
TARGET_SPEEDUP = 4.0
TARGET_PEAK_MB = 500.0
TARGET_AUC_SECONDS = 1.0
TARGET_WIDE_REFUSAL = 0.25  # refusing a wide header, as a share of scoring an honest upload of about its size
TARGET_COLUMN_GROWTH = 30.0  # reading 10x the columns, over 1x; linear is about 10x
WIDE_TARGETS, WIDE_ROWS = 200, 500
# The bound PODIUM_SCORING_MEMORY_MB's default is sized from (podium/config.py).
TARGET_MEMORY_RATIO = 17.0


def _write_csv(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
    tmp.replace(path)


def _usage(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.3, "Public", "Private")


def make_hw1p2(n: int) -> tuple[Path, Path]:
    """Solution and an upload (about 60 % right), both in their own shuffled order."""
    folder = DATA / f"hw1p2-{n}"
    solution, upload = folder / "solution.csv", folder / "upload.csv"
    if solution.exists() and upload.exists():
        return solution, upload
    rng = np.random.default_rng(SEED)
    ids = rng.permutation(n)
    labels = rng.integers(0, 138, n)
    _write_csv(pa.table({"id": ids, "label": labels, "Usage": _usage(rng, n)}), solution)
    guess = np.where(rng.random(n) < 0.6, labels, rng.integers(0, 138, n))
    order = rng.permutation(n)
    _write_csv(pa.table({"id": ids[order], "label": guess[order]}), upload)
    return solution, upload


def make_verification(n: int) -> tuple[Path, Path]:
    """Trials "imgA.jpg imgB.jpg" with a 0/1 truth, and an upload of noisy similarity scores."""
    folder = DATA / f"verification-{n}"
    solution, upload = folder / "solution.csv", folder / "upload.csv"
    if solution.exists() and upload.exists():
        return solution, upload
    rng = np.random.default_rng(SEED + 1)
    pairs = np.unique(rng.integers(0, 1_000_000, (int(n * 1.01) + 10, 2)), axis=0)[:n]
    pairs = pairs[rng.permutation(len(pairs))]
    left = np.char.add(np.char.add("img", np.char.zfill(pairs[:, 0].astype(str), 6)), ".jpg")
    right = np.char.add(np.char.add("img", np.char.zfill(pairs[:, 1].astype(str), 6)), ".jpg")
    trials = np.char.add(np.char.add(left, " "), right).astype(object)
    same = (rng.random(len(trials)) < 0.5).astype(np.int64)
    _write_csv(pa.table({"id": trials, "label": same, "Usage": _usage(rng, len(trials))}), solution)
    score = np.round(same * 0.8 + rng.normal(0, 0.5, len(trials)), 6)
    order = rng.permutation(len(trials))
    _write_csv(pa.table({"id": trials[order], "label": score[order]}), upload)
    return solution, upload


def make_wide_header(n_columns: int) -> Path:
    """An upload whose header has `n_columns` numbered columns, then one row."""
    path = DATA / f"wide-header-{n_columns}" / "upload.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"id,label," + ",".join(map(str, range(n_columns - 2))).encode() + b"\n0,1\n")
        tmp.replace(path)
    return path


def make_wide(n_targets: int, n_rows: int) -> tuple[Path, Path]:
    """Solution and upload with `n_targets` number columns t0, t1, ..."""
    folder = DATA / f"wide-{n_targets}x{n_rows}"
    solution, upload = folder / "solution.csv", folder / "upload.csv"
    if solution.exists() and upload.exists():
        return solution, upload
    rng = np.random.default_rng(SEED + 2)
    ids = np.arange(n_rows)
    truth, guess = (rng.random((n_rows, n_targets)).round(6) for _ in range(2))
    names = [f"t{j}" for j in range(n_targets)]
    _write_csv(pa.table({"id": ids, **dict(zip(names, truth.T)), "Usage": _usage(rng, n_rows)}), solution)
    _write_csv(pa.table({"id": ids, **dict(zip(names, guess.T))}), upload)
    return solution, upload


def reference(solution: Path, upload: Path, metric) -> tuple[float, float]:
    """What a metric.py author writes: read both with pandas, merge on the id, score each Usage split."""
    truth = pd.read_csv(solution)
    predicted = pd.read_csv(upload)
    merged = truth.merge(predicted, on="id", suffixes=("", "_pred"), how="left", validate="one_to_one")
    if merged["label_pred"].isna().any():
        raise ValueError("missing ids")
    public = merged[merged["Usage"] == "Public"]
    private = merged[merged["Usage"] == "Private"]
    return (float(metric(public["label"], public["label_pred"])),
            float(metric(private["label"], private["label_pred"])))


def timed(fn, repeats: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
import scorers
from podium.scoring import CompiledSolution, score_upload
compiled = CompiledSolution.open(Path(sys.argv[1]))
result = score_upload(compiled, Path(sys.argv[2]), scorers.get(sys.argv[3]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


ATTEMPT_SCRIPT = """
import resource, sys
from pathlib import Path
import scorers
from podium.scoring import CompiledSolution, SubmissionError, UploadLimits, score_upload
compiled = CompiledSolution.open(Path(sys.argv[1]))
scorer = scorers.get(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    score_upload(compiled, Path(sys.argv[2]), scorer, UploadLimits(max_bytes=10**9, max_decompressed_bytes=10**9))
except SubmissionError:
    pass
print(before / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def attempt_mb(compiled_dir: Path, upload: Path, metric: str) -> tuple[float, float]:
    """(resident peak before scoring, after) of a fresh process that opens the solution and scores one upload."""
    command = [sys.executable, "-c", ATTEMPT_SCRIPT, str(compiled_dir), str(upload), metric]
    out = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", *command],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    before, after = out.stdout.strip().splitlines()[-1].split()
    return float(before), float(after)


def gzipped(path: Path) -> Path:
    target = path.with_suffix(".csv.gz")
    if not target.exists():
        with path.open("rb") as source, gzip.open(target, "wb", compresslevel=1) as out:
            shutil.copyfileobj(source, out, 1 << 20)
    return target


def one_value_gzip(folder: Path, size: int) -> Path:
    """A small gzip that inflates to the header and one value of `size` bytes (the finding's 386 KB file)."""
    target = folder / f"one-value-{size}.csv.gz"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(target, "wb", compresslevel=9) as out:
            out.write(b"id,label\n0,")
            for _ in range(size // 10**6):
                out.write(b"1" * 10**6)
    return target


def memory_per_byte(sizes: list[int]) -> float:
    """Print what one attempt adds to its process's peak per decompressed byte; returns the largest ratio at the
    largest size (smaller ones are dominated by a fixed cost)."""
    import scorers
    from podium.scoring import compile_solution

    print("Memory of one attempt (a fresh process, the solution open): peak added / decompressed size")
    ratios = []
    for rows in sorted(sizes):
        solution, upload = make_hw1p2(rows)
        compiled = solution.parent / "compiled-accuracy"
        if not compiled.exists():
            compile_solution(solution, "id", scorers.get("accuracy"), compiled)
        cases = [(f"HW1P2 {rows:,} rows, .csv", upload, upload.stat().st_size),
                 (f"HW1P2 {rows:,} rows, .csv.gz", gzipped(upload), upload.stat().st_size)]
        if rows == max(sizes):
            bomb = one_value_gzip(DATA / "bombs", 100 * 10**6)
            cases.append((f"one value, {bomb.stat().st_size / 1e3:.0f} KB .gz", bomb, 100 * 10**6))
        for title, path, decompressed in cases:
            before, after = attempt_mb(compiled, path, "accuracy")
            ratio = (after - before) * 2**20 / decompressed
            if rows == max(sizes):
                ratios.append(ratio)
            print(f"  {title}: {decompressed / 1e6:.0f} MB decompressed; base {before:.0f} MB, peak {after:.0f} MB, "
                  f"added {after - before:.0f} MB = {ratio:.2f} x the decompressed size")
    return max(ratios)


def peak_mb(compiled_dir: Path, upload: Path, metric: str) -> float:
    """ru_maxrss of a fresh process that opens the compiled solution and scores one upload.

    Linux carries the resident high-water mark of the process that forked (this benchmark, holding its data)
    across exec into the child's ru_maxrss; so a small shell forks the scoring process, and the figure is its own.
    """
    command = [sys.executable, "-c", PEAK_SCRIPT, str(compiled_dir), str(upload), metric]
    out = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", *command],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def run_case(title: str, solution: Path, upload: Path, metric: str, sk_metric, target: str) -> dict:
    import scorers
    from podium.scoring import CompiledSolution, compile_solution, score_upload

    scorer = scorers.get(metric)
    compiled_dir = solution.parent / f"compiled-{metric}"
    started = time.perf_counter()
    compile_solution(solution, "id", scorer, compiled_dir)
    compile_seconds = time.perf_counter() - started

    def podium():
        return score_upload(CompiledSolution.open(compiled_dir), upload, scorer)

    podium_seconds, result = timed(podium, 5)
    reference_seconds, expected = timed(lambda: reference(solution, upload, sk_metric), 3)
    if not (np.isclose(result.public, expected[0]) and np.isclose(result.private, expected[1])):
        raise SystemExit(f"{title}: scores differ: podium {result.public}, {result.private}; "
                         f"reference {expected[0]}, {expected[1]}")
    print(f"{title}: {result.rows:,} rows, {upload.stat().st_size / 1e6:.1f} MB upload, metric {metric}; "
          f"public {result.public:.6f}, private {result.private:.6f} (same as the reference)")
    print(f"  compile once {compile_seconds:.2f} s")
    speedup = reference_seconds / podium_seconds
    print(f"  podium {podium_seconds:.2f} s, reference {reference_seconds:.2f} s, {speedup:.1f}x faster; {target}")
    return {"compiled": compiled_dir, "podium": podium_seconds, "reference": reference_seconds,
            "speedup": speedup}


def run_wide(hw1p2: dict, hw1p2_upload: Path, n_columns: int) -> dict:
    """A header of `n_columns` columns refused, against scoring HW1P2; 10x the columns read, against 1x."""
    import scorers
    from podium.scoring import CompiledSolution, SubmissionError, compile_solution, read_upload

    accuracy, rmse = scorers.get("accuracy"), scorers.get("rmse")
    poison = make_wide_header(n_columns)
    compiled = CompiledSolution.open(hw1p2["compiled"])

    def refuse():
        try:
            read_upload(compiled, poison, accuracy)
        except SubmissionError as exc:
            return exc.message
        raise SystemExit(f"a header of {n_columns:,} columns was not refused")

    refusal_seconds, message = timed(refuse, 5)
    share = refusal_seconds / hw1p2["podium"]
    print(f"Wide header: {n_columns:,} columns ({poison.stat().st_size / 1e6:.1f} MB) refused in "
          f"{refusal_seconds * 1000:.0f} ms, {share:.3f}x the time of scoring the HW1P2 upload "
          f"({hw1p2_upload.stat().st_size / 1e6:.1f} MB); target <= {TARGET_WIDE_REFUSAL:g}x")
    print(f"  {message}")

    seconds = {}
    for n_targets in (WIDE_TARGETS, 10 * WIDE_TARGETS):
        solution, upload = make_wide(n_targets, WIDE_ROWS)
        solution_of_width = compile_solution(solution, "id", rmse, solution.parent / "compiled-rmse")
        seconds[n_targets], _ = timed(lambda: read_upload(solution_of_width, upload, rmse), 5)
    narrow, wide = seconds[WIDE_TARGETS], seconds[10 * WIDE_TARGETS]
    growth = wide / narrow
    print(f"Wide uploads ({WIDE_ROWS:,} rows): reading {10 * WIDE_TARGETS:,} columns {wide * 1000:.0f} ms, "
          f"{WIDE_TARGETS:,} columns {narrow * 1000:.0f} ms, {growth:.1f}x for 10x the columns; "
          f"target <= {TARGET_COLUMN_GROWTH:g}x")
    return {"refusal": refusal_seconds, "share": share, "growth": growth}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the HW1P2 case (default 2,000,000)")
    parser.add_argument("--auc-rows", type=int, default=900_000, help="trials of the AUC case (default 900,000)")
    args = parser.parse_args(argv)
    from sklearn.metrics import accuracy_score, roc_auc_score

    hw1p2 = run_case("HW1P2", *make_hw1p2(args.rows), "accuracy", accuracy_score,
                     f"target >= {TARGET_SPEEDUP:g}x")
    _, hw1p2_upload = make_hw1p2(args.rows)
    peak = peak_mb(hw1p2["compiled"], hw1p2_upload, "accuracy")
    print(f"  peak memory (ru_maxrss) of a fresh process scoring one upload: {peak:.0f} MB; "
          f"target < {TARGET_PEAK_MB:g} MB")
    auc = run_case("Verification", *make_verification(args.auc_rows), "roc_auc", roc_auc_score,
                   f"target: podium < {TARGET_AUC_SECONDS:g} s")
    wide = run_wide(hw1p2, hw1p2_upload, max(args.rows, 10_000))
    ratio = memory_per_byte(sorted({max(1, args.rows // 10), max(1, args.rows // 2), args.rows}))

    verdicts = [
        (f"HW1P2 speed-up >= {TARGET_SPEEDUP:g}x", hw1p2["speedup"] >= TARGET_SPEEDUP, f"{hw1p2['speedup']:.1f}x"),
        (f"HW1P2 peak memory < {TARGET_PEAK_MB:g} MB", peak < TARGET_PEAK_MB, f"{peak:.0f} MB"),
        (f"Verification score_upload < {TARGET_AUC_SECONDS:g} s", auc["podium"] < TARGET_AUC_SECONDS,
         f"{auc['podium']:.2f} s"),
        (f"Wide header refused in <= {TARGET_WIDE_REFUSAL:g}x the time of scoring HW1P2",
         wide["share"] <= TARGET_WIDE_REFUSAL, f"{wide['share']:.3f}x"),
        (f"10x the columns read in <= {TARGET_COLUMN_GROWTH:g}x the time", wide["growth"] <= TARGET_COLUMN_GROWTH,
         f"{wide['growth']:.1f}x"),
        (f"Attempt memory <= {TARGET_MEMORY_RATIO:g} x the decompressed size", ratio <= TARGET_MEMORY_RATIO,
         f"{ratio:.2f} x"),
    ]
    print()
    for name, ok, figure in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {figure}")
    print(json.dumps({"hw1p2_podium_s": round(hw1p2["podium"], 3), "hw1p2_reference_s": round(hw1p2["reference"], 3),
                      "hw1p2_peak_mb": round(peak), "auc_podium_s": round(auc["podium"], 3),
                      "auc_reference_s": round(auc["reference"], 3), "wide_header_refusal_s": round(wide["refusal"], 4),
                      "wide_header_share": round(wide["share"], 4), "column_growth_10x": round(wide["growth"], 1),
                      "attempt_memory_ratio": round(ratio, 2)}))
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
