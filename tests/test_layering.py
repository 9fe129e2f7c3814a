"""The layers of DESIGN.md, checked on the source: "data flows one way: web/API/CLI -> services -> (rules, scoring,
models)", and `rules` and `scorers` import nothing of the platform.

Every module is parsed, never imported: each `import` and `from ... import` counts, at the top of a module or inside
a function, relative ones resolved. A failure names the file, the line, what is imported and the rule it breaks.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

import podium
import scorers

SOURCE = Path(podium.__file__).parent.parent
PACKAGES = ("podium", "scorers")
assert Path(scorers.__file__).parent.parent == SOURCE


# --- reading the source ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    file: str  # relative to the source root, e.g. podium/web/api.py
    line: int
    name: str  # the module imported, absolute: podium.models, sqlalchemy.orm
    at_top: bool  # run when the module is imported (not inside a function, not for type checkers only)

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.name}"


def module_of(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = SOURCE.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (SOURCE / package).rglob("*.py")
                  if "migrations" not in p.relative_to(SOURCE).parts)


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules an import statement names: `from podium.services import courses` is podium.services.courses,
    `from podium.models import User` is podium.models, `from . import x` inside podium/web is podium.web.x."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    names = [f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")]
    return names if len(names) == len(node.names) else [*names, base]


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_in(tree: ast.Module, file: str, module: str, is_package: bool) -> list[Import]:
    found = []

    def visit(node: ast.AST, at_top: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend(Import(file, node.lineno, name, at_top) for name in imported_names(node, module, is_package))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            at_top = False
        elif isinstance(node, ast.If) and is_type_checking(node):
            at_top = False
        for child in ast.iter_child_nodes(node):
            visit(child, at_top)

    visit(tree, True)
    return found


@dataclass(frozen=True)
class Module:
    path: Path
    name: str
    tree: ast.Module = field(repr=False)

    @property
    def file(self) -> str:
        return self.path.relative_to(SOURCE).as_posix()

    @property
    def imports(self) -> list[Import]:
        return imports_in(self.tree, self.file, self.name, self.path.name == "__init__.py")


@cache
def modules() -> tuple[Module, ...]:
    return tuple(Module(p, module_of(p), ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in source_files())


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# --- the import rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """What the modules under `where` may not import: `refused` names, unless also in `except_for`; with
    `only_standard_library`, everything that is not the standard library or `except_for` is refused."""

    id: str
    where: str  # a package (podium.rules) or a module
    rule: str
    refused: tuple[str, ...] = ()
    except_for: tuple[str, ...] = ()
    only_standard_library: bool = False

    def refuses(self, name: str) -> bool:
        if any(within(name, allowed) for allowed in self.except_for):
            return False
        if self.only_standard_library:
            return name.split(".")[0] not in sys.stdlib_module_names
        return any(within(name, refused) for refused in self.refused)

    def breaches(self) -> list[Import]:
        return [found for module in modules() if within(module.name, self.where)
                for found in module.imports if self.refuses(found.name)]


LAYERS = [
    Layer("rules-are-pure", "podium.rules", except_for=("podium.rules", "numpy"), only_standard_library=True,
          rule="podium.rules holds the pure course rules: the standard library, NumPy and itself only"),
    Layer("scorers-stand-alone", "scorers", refused=("podium", "sqlalchemy", "flask", "werkzeug"),
          rule="scorers are metrics anyone can read alone: nothing of the platform, the database or the web"),
    Layer("domain-is-shared-vocabulary", "podium.domain", only_standard_library=True,
          rule="podium.domain is the vocabulary every layer shares, so it imports only the standard library"),
    Layer("scoring-knows-no-storage", "podium.scoring",
          refused=("podium.web", "podium.models", "podium.db", "podium.services", "sqlalchemy", "flask",
                   "werkzeug"),
          rule="podium.scoring reads an upload and runs a metric: nothing of the web, the database or the services"),
    Layer("integrity-knows-no-storage", "podium.integrity",
          refused=("podium.web", "podium.models", "podium.db", "podium.services", "sqlalchemy", "flask",
                   "werkzeug"),
          rule="podium.integrity compares plain values: nothing of the web, the database or the services"),
    Layer("services-know-no-web", "podium.services", refused=("podium.web", "flask", "werkzeug"),
          except_for=("werkzeug.security",),  # password hashing, a library function: no request in sight
          rule="services are called by the web, the API, the CLI and the jobs alike, so they never import the web"),
    Layer("web-goes-through-services", "podium.web", refused=("podium.models", "podium.db", "sqlalchemy"),
          rule="the web is a thin adapter: it calls services and uses what they return, never the models or "
               "the database itself"),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_each_layer_imports_only_what_it_may(layer):
    assert any(within(m.name, layer.where) for m in modules()), f"no module {layer.where}: the rule checks nothing"
    breaches = layer.breaches()
    assert not breaches, "\n  ".join([f"{layer.rule}; yet", *map(str, breaches)])


# --- the web runs no queries -------------------------------------------------------------------------------

SESSION_NAMES = frozenset({"session", "db_session"})
SESSION_METHODS = frozenset({"get", "execute", "scalars", "scalar", "query", "add", "delete", "merge"})
QUERY_CALLS = frozenset({"select", "text"})


def flask_names(tree: ast.Module) -> set[str]:
    """Names bound to Flask's own `session` (a dict of the signed cookie), whose `.get` is no query."""
    return {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module == "flask" for alias in node.names}


def is_database_session(receiver: ast.expr, flask: set[str]) -> bool:
    """`session`, `db_session` (not Flask's session), or a call handing one out: `db_session()`, `db.session()`."""
    if isinstance(receiver, ast.Name):
        return receiver.id in SESSION_NAMES and receiver.id not in flask
    if isinstance(receiver, ast.Call):
        func = receiver.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        return name in {"db_session", "session", "sessions"}
    return False


def queries_in(tree: ast.Module) -> list[tuple[int, str]]:
    flask = flask_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in QUERY_CALLS:
            found.append((node.lineno, f"{func.id}(...)"))
        elif isinstance(func, ast.Attribute) and func.attr == "query":
            found.append((node.lineno, f"{ast.unparse(func)}(...)"))
        elif (isinstance(func, ast.Attribute) and func.attr in SESSION_METHODS
              and is_database_session(func.value, flask)):
            found.append((node.lineno, f"{ast.unparse(func)}(...)"))
    return sorted(found)


def test_the_web_runs_no_queries_of_its_own():
    found = [f"{m.file}:{line} runs {call}" for m in modules() if within(m.name, "podium.web")
             for line, call in queries_in(m.tree)]
    assert not found, "\n  ".join(["a view asks a service, which runs the query; yet", *found])


QUERIES = """
from flask import session
from sqlalchemy import select
def view():
    session.get("user_id")                    # the signed cookie: no query
    request.args.get("page")                  # no query
    db_session().get(User, 1)                 # a query
    db_session().scalars(select(User))        # two
    with rt().db.session() as s:
        s.execute("...")                      # a session under another name is not told apart
    rt().db.session().get(Submission, 2)      # a query
    User.query.filter_by(id=1)                # .query not called: no query either
    model.query(User)                         # a query
"""


def test_what_counts_as_a_query_in_the_web():
    assert queries_in(ast.parse(QUERIES)) == [
        (7, "db_session().get(...)"), (8, "db_session().scalars(...)"), (8, "select(...)"),
        (11, "rt().db.session().get(...)"), (13, "model.query(...)")]


# --- no import cycles --------------------------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """Module -> the Podium modules it imports when it is imported (function-local and type-only imports run
    later or never, so they make no cycle)."""
    known = {m.name for m in modules()}
    return {m.name: {i.name for i in m.imports if i.at_top and i.name in known and i.name != m.name}
            for m in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as the path a -> b -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [path_around(group, graph) for group in groups]


def path_around(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest way from the group's first module back to itself, through the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(group)} is no cycle")


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "\n".join("import cycle: " + " -> ".join(cycle) for cycle in found)


def test_a_cycle_is_reported_as_the_modules_around_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_relative_and_submodule_imports_are_resolved():
    tree = ast.parse("from . import access\nfrom .context import rt\nfrom podium.services import courses, \\\n"
                     "    BoardRow\ndef f():\n    import sqlalchemy.orm\n")
    assert [(i.line, i.name, i.at_top) for i in imports_in(tree, "podium/web/x.py", "podium.web.x", False)] == [
        (1, "podium.web.access", True), (2, "podium.web.context", True), (3, "podium.services.courses", True),
        (3, "podium.services", True), (6, "sqlalchemy.orm", False)]
