"""podium.rules is pure: the standard library (and NumPy) only, nothing of Flask, SQLAlchemy or the rest of Podium."""
import ast
import sys
from pathlib import Path

import podium.rules

RULES = Path(podium.rules.__file__).parent
ALLOWED_THIRD_PARTY = {"numpy"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_rules_import_only_the_standard_library_and_themselves():
    offenders = {}
    for path in sorted(RULES.glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            inside = name == "podium.rules" or name.startswith("podium.rules.")
            if not inside and top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
                offenders.setdefault(path.name, []).append(name)
    assert offenders == {}


def test_every_module_is_checked():
    assert {p.stem for p in RULES.glob("*.py")} >= {"time", "windows", "limits", "interpolation", "selection",
                                                     "grading", "slack", "ranking", "explain"}
