"""The folders written to disk: the committed definitions and the generated demo course."""
from __future__ import annotations

import ast
import sys
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from podium.demo import COMPETITIONS, write_course, write_definitions

from .common import NOW, SEED

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "competitions" / "11785-f19"
GENERATED_DATA = {"solution.csv", "sample_submission.csv"}


def files_under(folder: Path, skip: set[str] = frozenset()) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name not in skip}


def test_committed_definitions_equal_what_write_definitions_produces(tmp_path):
    written = write_definitions(tmp_path)
    assert written == tmp_path / "11785-f19"
    committed = files_under(COMMITTED, skip={".gitignore"} | GENERATED_DATA)
    assert committed == files_under(written)
    assert len(committed) == 1 + 2 * len(COMPETITIONS)


def test_committed_folder_ignores_the_generated_data():
    ignored = (COMMITTED / ".gitignore").read_text().split()
    assert GENERATED_DATA <= set(ignored)
    assert "podium demo --write competitions --schedule fall2019" in (REPO / "competitions" / "README.md").read_text()


def test_write_course_writes_a_loadable_folder(relative_course):
    assert relative_course.name == "11785-f19"
    assert (relative_course / "course.toml").is_file()
    for spec in COMPETITIONS:
        folder = relative_course / spec.slug
        config = tomllib.loads((folder / "competition.toml").read_text())
        for name in [config["evaluation"]["solution"], config["evaluation"]["sample_submission"],
                     *config["evaluation"]["data_files"]]:
            assert (folder / name).is_file(), name
        solution = pd.read_csv(folder / "solution.csv", keep_default_na=False)
        sample = pd.read_csv(folder / "sample_submission.csv", keep_default_na=False)
        assert list(solution.columns) == [spec.id_column, spec.target_column, "Usage"]
        assert list(sample.columns) == [spec.id_column, spec.target_column]
        assert sample[spec.id_column].tolist() == solution[spec.id_column].tolist()


def test_same_seed_and_day_give_byte_identical_folders(tmp_path, relative_course):
    again = write_course(tmp_path, seed=SEED, schedule="relative", now=NOW.replace(hour=20))
    assert files_under(again) == files_under(relative_course)


def test_rewriting_in_place_changes_nothing(tmp_path):
    first = write_course(tmp_path, seed=3, schedule="relative", now=NOW)
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in first.rglob("*") if path.is_file()}
    write_course(tmp_path, seed=3, schedule="relative", now=NOW)
    after = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in first.rglob("*") if path.is_file()}
    assert after == before


def test_another_seed_changes_the_data_but_not_the_definitions(tmp_path, relative_course):
    other = files_under(write_course(tmp_path, seed=SEED + 1, schedule="relative", now=NOW))
    same = files_under(relative_course)
    for spec in COMPETITIONS:
        assert other[f"{spec.slug}/solution.csv"] != same[f"{spec.slug}/solution.csv"]
        assert other[f"{spec.slug}/competition.toml"] == same[f"{spec.slug}/competition.toml"]


def test_another_day_moves_the_schedule_but_not_the_data(tmp_path, relative_course):
    later = files_under(write_course(tmp_path, seed=SEED, schedule="relative",
                                     now=datetime(2025, 2, 1, 12, 0, tzinfo=timezone.utc)))
    same = files_under(relative_course)
    assert later["hw1p2/competition.toml"] != same["hw1p2/competition.toml"]
    assert later["hw1p2/solution.csv"] == same["hw1p2/solution.csv"]


def test_the_fall2019_course_carries_exactly_the_committed_definitions(tmp_path):
    # `podium demo --write competitions --schedule fall2019` must not make the committed files drift.
    course = files_under(write_course(tmp_path, seed=SEED, schedule="fall2019"), skip=GENERATED_DATA)
    assert course == files_under(COMMITTED, skip={".gitignore"} | GENERATED_DATA)


def test_the_demo_package_imports_only_numpy_pandas_tomli_w_the_rules_and_the_standard_library():
    """The generator stands apart from the platform; the pure course rules (the one competition order) are shared."""
    allowed = {"numpy", "pandas", "tomli_w", "__future__"} | set(sys.stdlib_module_names)
    package = REPO / "podium" / "demo"
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
    outside = {name for name in imported if name.split(".")[0] not in allowed
               and not name.startswith(("podium.demo", "podium.rules"))}
    assert imported and not outside, outside
