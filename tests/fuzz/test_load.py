"""Fuzzing `podium load`: a course folder an instructor edited into any shape loads cleanly or is refused with one
ConfigError line naming the file and the key, and a refused load leaves the database and the stored files exactly
as they were, so the competitions already running keep scoring.

One database is shared by all the examples of a test on purpose: each load starts from what the loads before it
left, accepted or refused, as a real course's history does.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import shutil
import tomllib
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomli_w
from hypothesis import event, given, note, strategies as st
from sqlalchemy import MetaData, select

from podium import scoring
from podium.errors import ConfigError
from podium.models import Competition, Course
from podium.services.courses import load_course
from podium.services.rule_values import policy_of
from podium.spec import COMPETITION_KEYS, COURSE_KEYS, scorer_for
from tests.conftest import write_course
from tests.fuzz.profiles import fuzz

# --- values --------------------------------------------------------------------------------------------------

WEIRD_TEXT = st.sampled_from([
    "", " ", "\t", "c1", "hw1", "c2", "hw2", "-x", "_x", "a b", "a/b", "../c1", ".", "ü", "名前", "x" * 65, "x" * 201,
    "y" * 5000, "a\x00b", "a\nb", "a\rb", "\u202e", "\ufeff", "'; DROP TABLE courses; --", "<script>", "=1+1",
])
ZONES = st.sampled_from([
    "America/New_York", "UTC", "Etc/GMT+14", "Asia/Kathmandu", "Pacific/Chatham", "", "America", "Etc", "zone.tab",
    "tzdata.zi", "America/", "../../etc/passwd", "/etc/localtime", "Mars/Olympus_Mons", "x" * 5000, "a\x00b",
    "UTC ", "utc", "EST5EDT", "Factory", "posixrules",
])
WALL_CLOCKS = st.one_of(
    st.sampled_from([
        "0001-01-01 00:00:00", "0001-01-01 12:00:00", "9999-12-31 23:59:59", "9999-12-31 00:00:00",
        "2019-02-30 00:00:00", "2019-03-10 02:30:00", "2019-11-03 01:30:00", "2019-09-04 24:00:00",
        "2019-09-04T00:00:00", " 2019-09-04 00:00:00 ", "2019-09-04", "yesterday", "",
    ]),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
)
METRICS = st.sampled_from(["accuracy", "rmse", "roc_auc", "mean_levenshtein", "macro_f1", "nope", "", "custom:",
                           "custom:metric.py", "custom:missing.py", "custom:../metric.py", "custom:solution.csv",
                           "custom:/etc/passwd", "custom:README.md"])
FILE_NAMES = st.sampled_from(["solution.csv", "sample_submission.csv", "README.md", "missing.csv", "", ".", "..",
                              "../course.toml", "/etc/passwd", "competition.toml", "metric.py", "a\x00b", "x" * 300])
CUTOFFS = st.one_of(
    st.dictionaries(st.sampled_from(["A", "B", "C", "D", "F", "E", "a", ""]),
                    st.one_of(st.floats(), st.integers(), st.sampled_from(["top 10%", "top 50%", "top 0%", "top 200%",
                                                                          "top -5%", "top x%", "10%", ""])),
                    max_size=6),
    st.just({"A": "top 10%", "B": "top 30%", "C": "top 60%", "D": "top 90%"}),
)
SCALARS = st.one_of(
    st.text(max_size=12), WEIRD_TEXT, st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70), st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, 2**63, 10**30]),
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5, 1.5]),
    st.datetimes(), st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))])),
    st.dates(), st.times(),
)
TOML_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                        st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def value_for(key: str) -> st.SearchStrategy:
    """Values aimed at a key, mixed with values of any TOML type."""
    aimed = {
        "slug": WEIRD_TEXT, "title": WEIRD_TEXT, "timezone": ZONES, "opens": WALL_CLOCKS, "early": WALL_CLOCKS,
        "ontime": WALL_CLOCKS, "late": WALL_CLOCKS, "metric": METRICS, "solution": FILE_NAMES,
        "sample_submission": FILE_NAMES, "data_files": st.lists(FILE_NAMES, max_size=3), "cutoffs": CUTOFFS,
        "id_column": st.sampled_from(["id", "label", "Usage", "", "ID", "x" * 101]),
        "points": st.dictionaries(st.sampled_from(["A", "B", "C", "D", "F", "", "AB", "G"]), SCALARS, max_size=5),
        "slack_policy": st.sampled_from(["chronological", "optimal", "other", ""]),
        "selection": st.sampled_from(["kaggle", "all", "best"]),
    }.get(key)
    return TOML_VALUES if aimed is None else st.one_of(aimed, aimed, TOML_VALUES)


# --- folder mutations ----------------------------------------------------------------------------------------

SOLUTIONS = st.sampled_from([
    b"id,label,Usage\n0,0,Public\n1,1,Private\n2,2,Ignored\n",  # fewer ids than the sample submission
    b"id,label,Usage\n" + b"".join(b"%d,%d,Secret\n" % (i, i % 3) for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,%d,public\n" % (i, i % 3) for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,%d,Public\n" % (i, i % 3) for i in range(20)),
    b"id,label\n" + b"".join(b"%d,%d\n" % (i, i % 3) for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,%d,%s\n" % (i % 10, i % 3, b"Public" if i % 2 else b"Private")
                                   for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,x%d,%s\n" % (i, i, b"Public" if i % 2 else b"Private") for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,,%s\n" % (i, b"Public" if i % 2 else b"Private") for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,1,%s\n" % (i, b"Public" if i % 2 else b"Private") for i in range(20)),
    b"id,label,Usage\n" + b"".join(b"%d,nan,%s\n" % (i, b"Public" if i % 2 else b"Private") for i in range(20)),
    b"id,label,Usage\n",
    b"",
    b"\xff\xfe\x00i\x00d",
    b"id,label,Usage\n0,caf\xe9,Public\n",
    b"id,label,Usage\n0,0,Public,extra\n1,1,Private\n",
    b"id,id,Usage\n0,0,Public\n",
    b"\x00\x01\x02",
])
METRIC_FILES = st.sampled_from([
    "def score(solution, submission, row_id_column_name):\n    return 0.0\n",
    "def score(solution, submission):\n    return 0.0\n",
    "score = 3\n",
    "raise RuntimeError('metric.py\\nfailed\\non import')\n",
    "import no_such_module_anywhere\n",
    "def score(:\n",
    "x = 1 / 0\n",
    "\x00",
    "",
])


VALID_EDITS = [
    ("competition", "competition", "title", "Homework one, revised"),
    ("competition", "competition", "description", "Predict **well**."),
    ("competition", "competition", "display_precision", 3),
    ("competition", "competition", "daily_limit", 2),
    ("competition", "competition", "weight", 2.5),
    ("competition", "evaluation", "metric", "macro_f1"),
    ("competition", "evaluation", "metric", "rmse"),
    ("competition", "evaluation", "metric", "mae"),
    ("competition", "evaluation", "data_files", ["README.md"]),
    ("competition", "grading", "cutoffs", {"A": "top 10%", "B": "top 30%", "C": "top 60%", "D": "top 90%"}),
    ("course", "course", "title", "Course one, spring"),
    ("course", "course", "timezone", "Asia/Kathmandu"),
    ("course", "policy", "slack_days", 3),
    ("course", "policy", "points", {"A": 95, "F": 10}),
]


@st.composite
def mutation(draw) -> tuple:
    """One edit of the course folder: a key set to a value, a key or table removed, an unknown key added, a file
    rewritten (broken TOML, non-UTF-8, a bad solution), removed, or a second competition added."""
    kind = draw(st.sampled_from(["set"] * 6 + ["valid"] * 4 + [
        "delete", "delete_table", "unknown_key", "unknown_table", "raw", "solution", "sample", "remove", "metric_file",
        "copy_competition"]))
    if kind == "valid":  # an edit that loads, so that loads which succeed carry history into the next example
        which, table, key, value = draw(st.sampled_from(VALID_EDITS))
        return "set", which, table, key, value
    which = draw(st.sampled_from(["course", "competition"]))
    tables = COURSE_KEYS if which == "course" else COMPETITION_KEYS
    table = draw(st.sampled_from(sorted(tables)))
    if kind == "set":
        key = draw(st.sampled_from(sorted(tables[table])))
        return kind, which, table, key, draw(value_for(key))
    if kind in ("delete", "unknown_key"):
        key = draw(st.sampled_from(sorted(tables[table]))) if kind == "delete" else draw(st.text(min_size=1, max_size=8))
        return kind, which, table, key, draw(TOML_VALUES)
    if kind in ("delete_table", "unknown_table"):
        return kind, which, table if kind == "delete_table" else draw(st.text(min_size=1, max_size=8)), None, None
    if kind == "raw":
        return kind, which, draw(st.sampled_from(["truncate", "insert", "latin1", "empty", "binary"])), \
            draw(st.integers(0, 10_000)), draw(st.binary(min_size=1, max_size=4))
    if kind in ("solution", "sample"):
        return kind, None, None, None, draw(SOLUTIONS)
    if kind == "remove":
        return kind, None, draw(st.sampled_from(["course.toml", "hw1/competition.toml", "hw1/solution.csv",
                                                 "hw1/sample_submission.csv", "hw1/README.md", "hw1"])), None, None
    if kind == "metric_file":
        return kind, None, None, draw(st.sampled_from([True, False, None])), draw(METRIC_FILES)
    return kind, None, None, draw(st.booleans()), None


def toml_path(folder: Path, which: str) -> Path:
    return folder / ("course.toml" if which == "course" else "hw1/competition.toml")


def edit_toml(path: Path, edit) -> None:
    if not path.is_file():
        return
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return  # already broken by an earlier edit
    edit(data)
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # a value TOML cannot write (a NUL in a key, say): write it unchanged
        return
    path.write_text(text)


def apply(folder: Path, change: tuple) -> None:
    kind, which, table, key, value = change
    if kind in ("set", "unknown_key"):
        edit_toml(toml_path(folder, which), lambda d: d.setdefault(table, {}).__setitem__(key, value)
                  if isinstance(d.get(table, {}), dict) else None)
    elif kind == "delete":
        edit_toml(toml_path(folder, which), lambda d: d.get(table, {}).pop(key, None)
                  if isinstance(d.get(table, {}), dict) else None)
    elif kind == "delete_table":
        edit_toml(toml_path(folder, which), lambda d: d.pop(table, None))
    elif kind == "unknown_table":
        edit_toml(toml_path(folder, which), lambda d: d.__setitem__(table, {"x": 1}))
    elif kind == "raw":
        path = toml_path(folder, which)
        if not path.is_file():
            return
        data = path.read_bytes()
        how, at, junk = table, key % (len(data) + 1), value
        data = {"truncate": data[:at], "insert": data[:at] + junk + data[at:], "latin1": data + b"# caf\xe9\n",
                "empty": b"", "binary": junk * 50}[how]
        path.write_bytes(data)
    elif kind == "solution":
        if (folder / "hw1").is_dir():
            (folder / "hw1/solution.csv").write_bytes(value)
    elif kind == "sample":
        if (folder / "hw1").is_dir():
            (folder / "hw1/sample_submission.csv").write_bytes(value)
    elif kind == "remove":
        target = folder / table
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    elif kind == "metric_file":
        if (folder / "hw1").is_dir():
            (folder / "hw1/metric.py").write_text(value)

            def use_it(d):
                evaluation = d.get("evaluation")
                if isinstance(evaluation, dict):
                    evaluation["metric"] = "custom:metric.py"
                    if key is None:
                        evaluation.pop("higher_is_better", None)
                    else:
                        evaluation["higher_is_better"] = key
            edit_toml(toml_path(folder, "competition"), use_it)
    elif kind == "copy_competition":
        if (folder / "hw1").is_dir() and not (folder / "hw2").exists():
            shutil.copytree(folder / "hw1", folder / "hw2")
            if key:  # a second competition under its own slug; otherwise both claim "hw1"
                edit_toml(folder / "hw2/competition.toml",
                          lambda d: d.get("competition", {}).__setitem__("slug", "hw2")
                          if isinstance(d.get("competition"), dict) else None)


# --- what must hold -----------------------------------------------------------------------------------------


def snapshot(rt, tables: list) -> dict[str, list]:
    """Every row of every table, as sortable text: the database's whole state."""
    with rt.db.engine.connect() as connection:
        return {table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table))) for table in tables}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_loaded_competitions_work(rt) -> None:
    """What the database says is loaded can be used: each competition's compiled solution opens and was compiled
    for its metric and id column, its metric loads, its data files are stored intact, its course's policy reads."""
    with rt.db.session() as session:
        for course in session.scalars(select(Course)):
            policy_of(course)
        for comp in session.scalars(select(Competition)):
            compiled = scoring.CompiledSolution.open(rt.settings.located(comp.compiled_dir))
            scorer = scorer_for(comp.metric, rt.settings.located(comp.source_dir), comp.higher_is_better)
            compiled.check_scorer(scorer)
            assert compiled.id_column == comp.id_column, (comp.public_id, compiled.id_column, comp.id_column)
            assert compiled.expected_header == comp.expected_header
            for f in comp.files:
                assert sha256(rt.settings.located(f.path)) == f.sha256, (comp.public_id, f.name)


def check_refusal(exc: ConfigError, folder: Path) -> None:
    text = str(exc)
    # One line on a terminal: no line breaks, no control characters (an escape sequence would rewrite the screen).
    assert not any(unicodedata.category(ch) == "Cc" for ch in text), repr(text)
    assert text.startswith(f"{exc.file}: "), text
    named = Path(exc.file)
    assert named == folder or folder in named.parents, (exc.file, folder)
    if exc.key:  # "[table] key", or "[table]" for the table as a whole
        assert exc.key.startswith("[") and "]" in exc.key, exc.key
        assert text.startswith(f"{exc.file}: {exc.key}: ")
    else:  # only what concerns the file as a whole
        assert named.is_dir() or any(words in text for words in (
            "not valid TOML", "not UTF-8", "missing", "no such course folder")), text


EXAMPLES = itertools.count()  # each example edits its own copy of the folder


@pytest.fixture
def loaded(rt, tmp_path):
    """The database after a first, clean load of the course folder that every example starts from."""
    template = write_course(tmp_path / "template", now=datetime(2030, 1, 15, tzinfo=timezone.utc))
    with rt.db.session() as session:
        load_course(session, rt.settings, template, actor="test")
    metadata = MetaData()
    metadata.reflect(rt.db.engine)  # once: reflecting for every example took most of the test's time
    return template, metadata.sorted_tables


@fuzz(120)
@given(changes=st.lists(mutation(), min_size=1, max_size=3))
def test_an_edited_course_folder_loads_or_is_refused_without_losing_anything(rt, loaded, tmp_path, changes):
    template, tables = loaded
    folder = Path(shutil.copytree(template, tmp_path / "examples" / str(next(EXAMPLES)) / "c1"))
    for change in changes:
        apply(folder, change)
    note(f"folder: {folder}; changes: {changes!r}"[:3000])
    before = snapshot(rt, tables)
    try:
        with rt.db.session() as session:
            load_course(session, rt.settings, folder, actor="test")
    except ConfigError as exc:
        table = exc.key.split("]")[0] + "]" if exc.key else "the file"
        event("refused: " + (table if table.strip("[]") in {*COURSE_KEYS, *COMPETITION_KEYS, "the file"} else "?"))
        check_refusal(exc, folder)
        assert snapshot(rt, tables) == before, "a refused load changed the database"
    else:
        event("loaded")
    check_loaded_competitions_work(rt)


# Inputs the fuzzing found, kept so that they are tried on every run (the generated ones vary with the generator).
# Each was another exception than ConfigError, a message of several lines or with control characters, or a load
# that succeeded and broke grading later.
@pytest.mark.parametrize("changes, key", [
    ([("set", "course", "course", "timezone", "America")], "[course] timezone"),  # IsADirectoryError
    ([("set", "course", "course", "timezone", "x" * 5000)], "[course] timezone"),  # OSError: name too long
    ([("set", "competition", "schedule", "late", "9999-12-31 23:59:59")], "[schedule] late"),  # OverflowError
    ([("set", "competition", "schedule", "opens", "0001-01-01 00:00:00")], "[schedule] opens"),  # overflowed later
    ([("set", "course", "policy", "points", "x")], "[policy] points"),  # TypeError
    ([("set", "course", "policy", "points", {"": 90})], "[policy] points."),  # loaded; grading raised
    ([("set", "course", "policy", "points", {"AB": 90})], "[policy] points.AB"),
    ([("set", "course", "course", "slug", "x" * 65)], "[course] slug"),  # refused by the database, not the file
    ([("set", "competition", "competition", "title", "a\x00b")], "[competition] title"),  # likewise
    ([("set", "competition", "competition", "description", ["a"])], "[competition] description"),  # stored "['a']"
    ([("set", "competition", "evaluation", "data_files", ["a\x00b"])], "[evaluation] data_files"),  # ValueError
    ([("set", "competition", "evaluation", "data_files", ["x" * 300])], "[evaluation] data_files"),  # OSError
    ([("set", "competition", "evaluation", "sample_submission", "\x08")], "[evaluation] sample_submission"),
    ([("unknown_key", "course", "course", "\x1f", 1)], "[course] \\x1f"),
    ([("set", "competition", "competition", "daily_limit", 9223372036854775296)], "[competition] daily_limit"),
    ([("set", "course", "policy", "slack_days", 10**9)], "[policy] slack_days"),  # loaded; grading would hang
    ([("metric_file", None, None, True, "raise RuntimeError('metric.py\\nfailed\\non import')\n")],
     "[evaluation] metric"),  # three lines
])
def test_inputs_the_fuzzing_found(rt, loaded, tmp_path, changes, key):
    template, tables = loaded
    folder = Path(shutil.copytree(template, tmp_path / "found" / "c1"))
    for change in changes:
        apply(folder, change)
    before = snapshot(rt, tables)
    with pytest.raises(ConfigError) as refused:
        with rt.db.session() as session:
            load_course(session, rt.settings, folder, actor="test")
    assert refused.value.key == key, str(refused.value)
    check_refusal(refused.value, folder)
    assert snapshot(rt, tables) == before
    check_loaded_competitions_work(rt)


def test_a_changed_metric_is_compiled_for_and_a_refused_one_keeps_the_old(rt, loaded, tmp_path):
    """Found by the fuzzing: the solution compiled for accuracy was reused for rmse (the same file), so every
    upload failed with "compiled for a metric with label targets"."""
    template, _ = loaded
    folder = Path(shutil.copytree(template, tmp_path / "metric" / "c1"))
    apply(folder, ("set", "competition", "evaluation", "metric", "rmse"))
    apply(folder, ("set", "competition", "grading", "cutoffs", {"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.5}))
    with rt.db.session() as session:
        load_course(session, rt.settings, folder, actor="test")
    check_loaded_competitions_work(rt)
    # Back to accuracy, with a sample submission that lacks ids: refused once the solution has been compiled for
    # accuracy; the database still says rmse, and rmse's compiled solution is still there, untouched.
    apply(folder, ("set", "competition", "evaluation", "metric", "accuracy"))
    apply(folder, ("set", "competition", "grading", "cutoffs", {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}))
    apply(folder, ("sample", None, None, None, b"id,label\n0,0\n"))
    with pytest.raises(ConfigError, match="sample_submission"):
        with rt.db.session() as session:
            load_course(session, rt.settings, folder, actor="test")
    with rt.db.session() as session:
        assert session.scalar(select(Competition.metric)) == "rmse"
    check_loaded_competitions_work(rt)
