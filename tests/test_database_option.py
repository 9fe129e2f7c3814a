"""The test suite's --database option itself: a test about the other database is left out, never skipped, and a
marker that does not say which database or why is refused."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

# pytest is run in this process (pytester), with the suite's conftest as a plugin, as `-p tests.conftest` loads it:
# a `python -m pytest` subprocess would spend seconds importing again what this process holds already.
pytest_plugins = ["pytester"]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def run_pytest(pytester: pytest.Pytester, source: str, *args: str) -> Done:
    sample = pytester.makepyfile(test_sample=textwrap.dedent(source))
    result = pytester.runpytest_inprocess("-p", "tests.conftest", "-p", "no:cacheprovider", "-q", str(sample), *args)
    return Done(result.ret, result.stdout.str(), result.stderr.str())


def test_a_test_about_the_other_database_is_deselected_not_skipped(pytester):
    done = run_pytest(pytester, """
        import pytest

        @pytest.mark.only_on("postgresql", why="about PostgreSQL")
        def test_postgresql_only():
            assert False, "must not run on SQLite"

        def test_everywhere(database_kind):
            assert database_kind == "sqlite"
    """, "--database=sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 deselected" in done.stdout and "skipped" not in done.stdout


def test_a_marker_without_a_reason_is_a_usage_error(pytester):
    done = run_pytest(pytester, """
        import pytest

        @pytest.mark.only_on("sqlite")
        def test_unexplained():
            pass
    """, "--database=sqlite")
    assert done.returncode == 4  # pytest's usage error
    assert 'only_on("sqlite" or "postgresql", why="...")' in done.stderr


def test_a_run_on_postgresql_leaves_out_the_tests_that_use_no_database(pytester):
    """They ran in the SQLite run and would do exactly the same again; a test with a database runs on both, and a
    test about PostgreSQL runs there even when it needs no database of the run."""
    source = """
        import pytest

        def test_pure_arithmetic():
            assert 1 + 1 == 2

        def test_with_a_database(database_url):
            assert database_url

        @pytest.mark.only_on("postgresql", why="about the PostgreSQL binaries, with no database of the run")
        def test_about_postgresql_without_a_database():
            pass
    """
    on_postgresql = run_pytest(pytester, source, "--database=postgresql", "--collect-only")
    assert on_postgresql.returncode == 0, on_postgresql.stdout + on_postgresql.stderr
    assert "test_with_a_database" in on_postgresql.stdout and "test_pure_arithmetic" not in on_postgresql.stdout
    assert "test_about_postgresql_without_a_database" in on_postgresql.stdout
    assert "2/3 tests collected (1 deselected)" in on_postgresql.stdout

    on_sqlite = run_pytest(pytester, source, "--database=sqlite")
    assert "2 passed, 1 deselected" in on_sqlite.stdout, on_sqlite.stdout
