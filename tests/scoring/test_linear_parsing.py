"""Reading an upload costs time in proportion to its size: a header millions of columns wide is refused by its count
before it is split into names, and ten times the columns or ten times the rows cost about ten times the time.

Growth is measured as a ratio in one process, never as a wall-clock time: each size is timed a few times,
alternating with the other, and the best run of each is kept, so a noisy moment on the machine cannot decide.
"""
from __future__ import annotations

import csv
import functools
import gzip
import io
import time
import zipfile

import pyarrow.csv as pacsv
import pytest

from podium.scoring import read_upload, score_upload
from podium.scoring.errors import SubmissionError
from podium.scoring.upload import check_header, max_header_width
from tests.scoring.conftest import EXACT_TEXT, MAE, Competition

POISON_COLUMNS = 2_000_000
# Ten times the work may cost about ten times the time; thirty leaves room for caches and the allocator, and is
# far below the hundred times that a step quadratic in the columns or rows costs.
MAX_GROWTH = 30
REPEATS = 5


def growth(small, large) -> float:
    """How many times longer ``large()`` takes than ``small()``, each the best of REPEATS runs."""
    best = {small: float("inf"), large: float("inf")}
    for _ in range(REPEATS):
        for run in (small, large):
            started = time.perf_counter()
            run()
            best[run] = min(best[run], time.perf_counter() - started)
    return best[large] / best[small]


def refusal(fn) -> SubmissionError:
    with pytest.raises(SubmissionError) as caught:
        fn()
    return caught.value


@functools.cache
def poison(n_columns: int) -> bytes:
    """`id,label` followed by numbered columns up to ``n_columns``, and one row (built once per width)."""
    return b"id,label," + ",".join(map(str, range(n_columns - 2))).encode() + b"\n0,1\n"


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("p.csv", data)
    return buffer.getvalue()


# Compressed uploads are inflated first and then read like the plain ones; each way is checked.
COMPRESSIONS = {"csv": lambda data: data, "gzip": lambda data: gzip.compress(data, compresslevel=1), "zip": zipped}


def wide_solution(n_targets: int, n_rows: int = 10) -> str:
    """A solution with the targets t0, t1, ... and ids 0 to ``n_rows`` - 1."""
    header = ",".join(["id", *(f"t{j}" for j in range(n_targets)), "Usage"])
    values = ",".join(["1"] * n_targets)
    return header + "\n" + "".join(f"{i},{values},{'Public' if i % 2 else 'Private'}\n" for i in range(n_rows))


def wide_upload(n_targets: int, n_rows: int = 10) -> str:
    header = ",".join(["id", *(f"t{j}" for j in range(n_targets))])
    values = ",".join(["1.5"] * n_targets)
    return header + "\n" + "".join(f"{i},{values}\n" for i in range(n_rows))


# --- a header far wider than the competition needs --------------------------------------------------------------

@pytest.mark.parametrize("name, compression", [("p.csv", "csv"), ("p.csv.gz", "gzip"), ("p.zip", "zip")])
def test_a_header_of_two_million_columns_is_refused_by_its_count(labels, monkeypatch, name, compression):
    upload = labels.write(COMPRESSIONS[compression](poison(POISON_COLUMNS)), name)

    def not_read(*args, **kwargs):
        raise AssertionError("the header was read beyond its count")

    # Neither split into names nor parsed by pyarrow: counting its commas is enough to refuse it.
    monkeypatch.setattr(csv, "reader", not_read)
    monkeypatch.setattr(pacsv, "read_csv", not_read)
    error = refusal(lambda: score_upload(labels.compiled, upload, labels.scorer, original_name=name))
    assert error.message == ("The header (the first line) has 2,000,000 columns; the file should have 2 columns, "
                             "`id,label`, and one row per id. Headers of more than 1,000 columns are refused "
                             "without reading further.")
    assert error.code == "extra_columns"


def test_the_widest_header_read_name_by_name_is_ten_times_the_expected_or_a_thousand():
    assert max_header_width(2) == 1_000
    assert max_header_width(100) == 1_000
    assert max_header_width(101) == 1_010
    assert max_header_width(5_000) == 50_000


def test_a_header_at_the_limit_is_read_and_its_columns_named(labels):
    at_limit = labels.error(poison(1_000))
    assert at_limit.message.startswith("Expected the header `id,label`; found `id,label,0,1,2,3,")
    assert at_limit.message.endswith("Unexpected columns: `0`, `1`, `2`, `3`, `4` and 993 more; remove them.")
    over = labels.error(poison(1_001))
    assert over.message.startswith("The header (the first line) has 1,001 columns;")


def test_the_limit_grows_with_the_columns_a_competition_expects(tmp_path):
    wide = Competition(tmp_path / "wide", wide_solution(150), MAE)
    header = ",".join(["id", *(f"t{j}" for j in range(150)), *(f"x{j}" for j in range(1_359))])  # 1,510 columns
    at_limit = wide.error(header + "\n")
    assert at_limit.message.endswith("Unexpected columns: `x0`, `x1`, `x2`, `x3`, `x4` and 1,354 more; remove them.")
    over = wide.error(header + ",x1359\n")
    assert over.message.startswith("The header (the first line) has 1,511 columns; the file should have 151 columns, "
                                   "`id,t0,t1,t2,")
    assert over.message.endswith("...`, and one row per id. Headers of more than 1,510 columns are refused without "
                                 "reading further.")


def test_commas_inside_quoted_names_are_not_columns(labels):
    """A quoted name may hold commas: the count that refuses a header reads quotes as the csv module does."""
    header = "id,label," + ",".join(f'"a,b,{j}"' for j in range(990))  # 992 columns, 2,971 commas
    error = labels.error(header + "\n0,1\n")
    assert error.message.endswith("Unexpected columns: `a,b,0`, `a,b,1`, `a,b,2`, `a,b,3`, `a,b,4` and 985 more; "
                                  "remove them.")
    error = labels.error(header + ',"a,b,990","a,b,991",x,y,z,w,v,u,s\n0,1\n')
    assert error.message.startswith("The header (the first line) has 1,001 columns;")


def test_many_repeated_names_in_a_header_of_normal_width_are_named_once(labels):
    header = "id,label," + ",".join(["label", "score", "score"] * 300)  # 902 columns
    error = labels.error(header + "\n0,1\n")
    assert error.message == (f"Expected the header `id,label`; found `{header[:197]}...`. The columns `label`, "
                             f"`score` appear more than once. Unexpected column: `score`; remove it.")
    assert error.code == "extra_columns"
    only_repeats = labels.error("id,label," + ",".join(["label"] * 900) + "\n0,1\n")
    assert only_repeats.message.endswith("The column `label` appears more than once.")
    assert only_repeats.code == "duplicate_columns"


def test_unnamed_columns_are_named_as_such_once(labels):
    error = labels.error(",id,label,,\n0,0,1,,\n")
    assert error.message == ("Expected the header `id,label`; found `,id,label,,`. More than one column has no name. "
                             "Unexpected column: an unnamed column; remove it. The unnamed first column looks like "
                             "a saved pandas index: write the file with `df.to_csv(path, index=False)`.")


# --- growth: ten times the columns ------------------------------------------------------------------------------

@pytest.mark.parametrize("names", [
    pytest.param(lambda n: [f"c{j}" for j in range(n)], id="distinct"),
    pytest.param(lambda n: [f"c{j % 7}" for j in range(n)], id="repeated"),
])
def test_comparing_ten_times_the_names_costs_about_ten_times_the_time(names):
    expected = ["id", "label"]
    narrow, wide = ["id", "label", *names(1_000)], ["id", "label", *names(10_000)]

    def compare(found):
        return lambda: refusal(lambda: check_header(found, expected))

    assert compare(wide)().code in ("extra_columns", "duplicate_columns")
    assert growth(compare(narrow), compare(wide)) < MAX_GROWTH


@pytest.mark.parametrize("scorer", [MAE, EXACT_TEXT], ids=["numbers", "text"])
def test_reading_ten_times_the_columns_costs_about_ten_times_the_time(tmp_path, scorer):
    narrow = Competition(tmp_path / "narrow", wide_solution(100), scorer)
    wide = Competition(tmp_path / "wide", wide_solution(1_000), scorer)
    narrow_upload, wide_upload_path = narrow.write(wide_upload(100)), wide.write(wide_upload(1_000))

    def read(competition, path):
        return lambda: read_upload(competition.compiled, path, scorer)

    assert read(wide, wide_upload_path)().table.num_columns == 1_001
    assert growth(read(narrow, narrow_upload), read(wide, wide_upload_path)) < MAX_GROWTH


# --- growth: ten times the rows ---------------------------------------------------------------------------------

ROW_SHAPES = {  # what a row looks like, and the refusal it leads to (None: it is read)
    "numbers": (lambda i: f"{i},{i % 7}.5\n", None),
    "values that are not numbers": (lambda i: f"{i},x{i}\n", "bad_values"),
    "rows of the wrong width": (lambda i: f"{i},1,2\n", "bad_rows"),
    "repeated ids": (lambda i: f"{i % 3},1\n", "missing_ids"),  # named first; the repeats are counted too
}


def rows_growth(tmp_path, row, compress=COMPRESSIONS["csv"]) -> tuple[str | None, float]:
    """What scoring 20,000 rows written by ``row`` leads to, and its time over that of 2,000 such rows."""

    def upload(n_rows: int):
        competition = Competition(tmp_path / f"rows-{n_rows}", wide_solution(1, n_rows), MAE)
        path = competition.write(compress(("id,t0\n" + "".join(row(i) for i in range(n_rows))).encode()))
        return lambda: score_or_refuse(competition, path)

    small, large = upload(2_000), upload(20_000)
    return large(), growth(small, large)


@pytest.mark.parametrize("shape", ROW_SHAPES)
def test_ten_times_the_rows_cost_about_ten_times_the_time(tmp_path, shape):
    row, code = ROW_SHAPES[shape]
    outcome, ratio = rows_growth(tmp_path, row)
    assert outcome == code
    assert ratio < MAX_GROWTH


@pytest.mark.parametrize("compression", ["gzip", "zip"])
def test_ten_times_the_rows_compressed_cost_about_ten_times_the_time(tmp_path, compression):
    outcome, ratio = rows_growth(tmp_path, ROW_SHAPES["numbers"][0], COMPRESSIONS[compression])
    assert outcome is None
    assert ratio < MAX_GROWTH


def test_ten_times_the_rows_of_text_with_quoted_newlines_cost_about_ten_times_the_time(tmp_path):
    """Quoted newlines make the line numbers of a message come from a scan of the whole file."""
    competition = Competition(tmp_path / "text", "id,text,Usage\n0,a,Public\n1,b,Private\n", EXACT_TEXT)

    def upload(n_rows: int):
        path = competition.write("id,text\n" + "".join(f'{i},"a\nb"\n' for i in range(n_rows)))
        return lambda: score_or_refuse(competition, path)

    small, large = upload(2_000), upload(20_000)
    assert large() == "unknown_ids"
    assert growth(small, large) < MAX_GROWTH


def score_or_refuse(competition: Competition, path) -> str | None:
    """Score an upload; the refusal's code, or None when it scores."""
    try:
        score_upload(competition.compiled, path, competition.scorer)
    except SubmissionError as error:
        return error.code
    return None
