"""The light `podium` commands load only what they use (bench/cli.py times them; this guards the cause).

Each command runs as a real process under `python -X importtime` against a small course, and must succeed
without importing the scoring stack or the web app. A failure names the chain of imports that pulled the module
in, e.g. `pandas <- podium.scoring.score <- podium.scoring <- podium.services.courses`.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import predictions

EMAIL = "ada@example.edu"
# Heavy or web-only: pandas, pyarrow and NumPy come with scoring; Flask, Werkzeug and Jinja with the web app.
HEAVY = ("pandas", "pyarrow", "numpy", "sklearn", "scipy", "matplotlib", "podium.scoring", "podium.web", "flask",
         "werkzeug", "jinja2", "markdown", "alembic", "tqdm", "apscheduler")
# `--help` reads no database: it needs neither SQLAlchemy nor a service.
DATABASE = ("sqlalchemy", "podium.db", "podium.models", "podium.services")
# What a light command does without: it reads a course, it loads no course folder (podium.spec, the metrics'
# registry), scores nothing (podium.attempts, multiprocessing), and looks a plain address up without validating it.
UNUSED = ("podium.spec", "scorers", "podium.attempts", "multiprocessing", "email_validator")
# Run as the console script does: `from podium.cli import main; main()`, the arguments after it; at exit, a line on
# stderr says whether the cyclic garbage collector is on and how many objects it was told to leave alone.
COLLECTOR = "collector:"
PODIUM = [sys.executable, "-X", "importtime", "-c",
          f"import atexit, gc, sys; atexit.register(lambda: print('{COLLECTOR}', gc.isenabled(), gc.get_freeze_count(), "
          "file=sys.stderr)); from podium.cli import main; main()"]


def import_chains(importtime: str) -> dict[str, list[str]]:
    """Each module imported, with the chain of importers that loaded it first (itself first).

    `-X importtime` prints a module after the modules it imported, indented two spaces deeper than its importer;
    so a module's importer is the next line below it that is less indented."""
    rows = []
    for line in importtime.splitlines():
        if line.startswith("import time:") and not line.endswith("| imported package"):
            name = line.split("|")[2]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    chains = {}
    for i, (depth, name) in enumerate(rows):
        chain = [name]
        for outer, importer in rows[i + 1:]:
            if depth == 1:  # a top-level import: the chain is complete
                break
            if outer < depth:
                chain.append(importer)
                depth = outer
        chains.setdefault(name, chain)
    return chains


def offending(chains: dict[str, list[str]], forbidden: tuple[str, ...]) -> list[str]:
    """For each forbidden package imported, the chain that brought it in."""
    found = []
    for package in forbidden:
        loaded = [name for name in chains if name == package or name.startswith(package + ".")]
        if loaded:
            found.append(" <- ".join(chains[min(loaded, key=len)]))
    return found


def run_podium(*args: str) -> tuple[subprocess.CompletedProcess, dict[str, list[str]], tuple[bool, int]]:
    """`podium ARGS` in a new process on the test's database (DATABASE_URL and PODIUM_DATA_DIR, set by `rt`); the
    import chains, and whether the collector was on at exit with how many objects frozen."""
    done = subprocess.run([*PODIUM, *args], capture_output=True, text=True, timeout=60)
    chains = import_chains(done.stderr)
    lines = done.stderr.splitlines()
    [collector] = [line.split()[1:] for line in lines if line.startswith(COLLECTOR)]
    done.stderr = "".join(line + "\n" for line in lines
                          if not line.startswith("import time:") and not line.startswith(COLLECTOR))
    return done, chains, (collector[0] == "True", int(collector[1]))


@pytest.fixture
def course(rt, podium_cli, course_dir, tmp_path) -> str:
    """The conftest course with one student and one scored submission; returns the competition's id."""
    assert podium_cli("load", course_dir).exit_code == 0
    assert podium_cli("users", "add", EMAIL, "--course", "c1", "--role", "student").exit_code == 0
    upload = tmp_path / "pred.csv"
    upload.write_text(predictions())
    assert podium_cli("submit", "c1-hw1", upload, "--as", EMAIL).exit_code == 0
    return "c1-hw1"


def test_import_chains_name_who_imported_a_module_first():
    importtime = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:        10 |         10 |     numpy.core",
        "import time:        10 |         20 |   numpy",
        "import time:        10 |         10 |   json",
        "import time:        10 |         40 | podium.scoring",
        "import time:        10 |         10 | click",
        "import time:        10 |         10 |   pandas",
        "import time:        10 |         10 | podium.services.courses",
    ])
    chains = import_chains(importtime)
    assert chains["numpy.core"] == ["numpy.core", "numpy", "podium.scoring"]
    assert chains["click"] == ["click"]
    assert offending(chains, ("numpy", "pandas")) == ["numpy <- podium.scoring",
                                                      "pandas <- podium.services.courses"]


def test_help_reads_no_database_and_imports_no_service(rt):
    done, chains, _collector = run_podium("--help")
    assert done.returncode == 0, done.stderr
    assert "grades" in done.stdout and "users" in done.stdout
    assert "click" in chains  # the chains were read: an empty parse would pass the next line vacuously
    found = offending(chains, HEAVY + DATABASE)
    assert not found, "podium --help imported " + "; ".join(found)


@pytest.mark.parametrize("command, expected", [
    (["jobs"], "c1-hw1\t"),
    (["users", "token", EMAIL], None),
    (["grades", "explain", "c1-hw1", EMAIL], "Counted: submission"),
    (["slack", "balance", "c1"], f"{EMAIL}\t"),
    (["invitations", "list", "c1"], "no invitation links in c1"),
], ids=["jobs", "users token", "grades explain", "slack balance", "invitations list"])
def test_light_command_imports_neither_scoring_nor_the_web_app(course, command, expected):
    done, chains, (collecting, frozen) = run_podium(*command)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert expected is None or expected in done.stdout
    assert len(done.stdout.strip()) > 20
    assert "sqlalchemy" in chains and "podium.models" in chains  # it did read the database
    found = offending(chains, HEAVY + UNUSED)
    assert not found, f"podium {' '.join(command)} imported " + "; ".join(found)
    # Paused while the command loaded its code, the collector is on again once the database is open, with what
    # was loaded left out of its walks: a long-running command (`run`, `worker`) opens the database the same way.
    assert collecting and frozen > 10_000
