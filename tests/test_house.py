"""The house rules (docs/decisions.md, "House rules checked by a test"), over the whole
project (every module outside tests/ and migrations/): no function over 60 lines, no SQL
outside store/ (queries and rules live there), no import cycle among the project's
modules, and no issue number cited in code, tests or docs.

Read from the AST, not with grep, so that ``click.progressbar(`` or ``report_text(`` is not
SQL and a docstring mentioning ``select(`` is not a query.

And the package map (docs/architecture.md, "Package map"): every import, deferred or not,
goes to a package strictly below the importer's, so no two packages import each other.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 60
# docs/examples holds receivers for integrators (their code, not the service).
OUTSIDE = {"tests", "migrations", "docs", ".venv", ".git", "shop_access.egg-info", "var"}
SQL_FUNCTIONS = {"select", "text"}
"""Called by name (``select(Shop)``, ``text("SELECT 1")``) or on sqlmodel/sqlalchemy."""
SQL_METHODS = {"exec", "execute", "exec_driver_sql"}
"""Called on a session or connection (``session.exec(...)``)."""
SQL_MODULES = {"sqlmodel", "sqlalchemy", "sa"}
SQL_HOMES = {"store", "bench"}
"""Where queries live: store/ (the rules) and bench/ (what only the benchmarks measure or
set up; no rule lives there, and shipping it in store/ would ship bench code)."""
SCHEMA_MODULES = {"models.tables"}
"""Table definitions: their ``text()`` is a partial index's predicate, schema like the
migrations', not a query."""


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, tuple[Path, ast.Module]]:
    """Every project module by dotted name, with its file and syntax tree."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] in OUTSIDE:
            continue
        found[module_name(path, root)] = (path, ast.parse(path.read_text(), str(path)))
    return found


def long_functions(modules: dict[str, tuple[Path, ast.Module]]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines"
        for path, tree in modules.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


LAYERS: list[set[str]] = [
    {"models"},
    {"store"},
    {"client"},
    {"activities"},
    {"workflows"},
    {"runtime"},
    {"devtools"},
    {"web", "api"},
    {"cli"},
    {"linkhandler", "worker", "starter"},
    {"bench", "scripts"},
]
"""The package map, lowest first: a package imports only packages of lower layers
(siblings in one layer never import each other)."""
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def is_sql_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in SQL_FUNCTIONS
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in SQL_METHODS:
        return True
    return (
        func.attr in SQL_FUNCTIONS
        and isinstance(func.value, ast.Name)
        and func.value.id in SQL_MODULES
    )


def _is_schema_text(module: str, node: ast.Call) -> bool:
    return module in SCHEMA_MODULES and isinstance(node.func, ast.Name) and node.func.id == "text"


def sql_outside_store(modules: dict[str, tuple[Path, ast.Module]]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)[:60]}"
        for name, (path, tree) in modules.items()
        if name.split(".")[0] not in SQL_HOMES
        for node in _calls(tree)
        if is_sql_call(node) and not _is_schema_text(name, node)
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when a module is imported: its top level and the branches of
    top-level ``if``/``try``, but not function bodies (a deferred import runs later) nor
    ``if TYPE_CHECKING:`` blocks (never run)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if not (isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING"):
                yield from _import_time_statements(stmt.body)
            yield from _import_time_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _import_time_statements(block)
            for handler in stmt.handlers:
                yield from _import_time_statements(handler.body)


def _imported(name: str, stmt: ast.stmt, known: set[str]) -> set[str]:
    """The project modules one statement of module ``name`` imports."""
    if isinstance(stmt, ast.Import):
        return {a.name for a in stmt.names if a.name in known}
    if not isinstance(stmt, ast.ImportFrom):
        return set()
    base = stmt.module or ""
    if stmt.level:
        package = name.split(".")[: -stmt.level] if stmt.level else []
        base = ".".join([*package, *([base] if base else [])])
    found = set()
    for alias in stmt.names:
        if f"{base}.{alias.name}" in known:  # ``from web import pages`` imports web.pages
            found.add(f"{base}.{alias.name}")
        elif base in known:
            found.add(base)
    return found


def import_graph(modules: dict[str, tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    known = set(modules)
    return {
        name: {
            target
            for stmt in _import_time_statements(tree.body)
            for target in _imported(name, stmt, known)
            if target != name
        }
        for name, (_path, tree) in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None: a depth-first search that stops
    at a module already on its path."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, set())):
            if found := visit(nxt, [*path, node]):
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        if found := visit(start, []):
            return found
    return None


def all_imports(modules: dict[str, tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    """Every project module each module imports anywhere: at import time, in a function
    body or under ``TYPE_CHECKING`` (a deferred import is still a dependency)."""
    known = set(modules)
    return {
        name: {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.stmt)
            for target in _imported(name, node, known)
            if target != name
        }
        for name, (_path, tree) in modules.items()
    }


def _rank(module: str) -> int:
    return RANK[module.split(".")[0]]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a package in the same or a higher layer than the importer's."""
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if name.split(".")[0] != target.split(".")[0] and _rank(target) >= _rank(name)
    )


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        top = name.split(".")[0]
        packages.setdefault(top, set()).update(
            t.split(".")[0] for t in targets if t.split(".")[0] != top
        )
    return packages


# --- the rules -----------------------------------------------------------------------------


def test_house_no_function_over_60_lines() -> None:
    long = long_functions(project_modules())
    assert not long, "split these:\n" + "\n".join(long)


def test_house_no_sql_outside_store() -> None:
    """R-independent house rule: queries live in store/."""
    found = sql_outside_store(project_modules())
    assert not found, "move these queries into store/:\n" + "\n".join(found)


def test_house_no_import_cycle_among_project_modules() -> None:
    cycle = find_cycle(import_graph(project_modules()))
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_house_every_package_has_its_layer() -> None:
    tops = {name.split(".")[0] for name in project_modules()}
    assert tops - set(RANK) == set(), "add these to LAYERS (and docs/architecture.md)"


def test_house_no_package_imports_one_above_it_or_beside_it() -> None:
    found = layer_violations(all_imports(project_modules()))
    assert not found, "docs/architecture.md, 'Package map':\n" + "\n".join(found)


def test_house_no_import_cycle_among_packages() -> None:
    cycle = find_cycle(package_graph(all_imports(project_modules())))
    assert cycle is None, f"package cycle: {' -> '.join(cycle or [])}"


# --- the checks can fail -------------------------------------------------------------------


def _tree(source: str) -> dict[str, tuple[Path, ast.Module]]:
    return {"web.fake": (ROOT / "web" / "fake.py", ast.parse(source))}


def test_the_length_check_finds_a_61_line_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert long_functions(_tree(f"def f() -> None:\n{body}\n")) == ["web/fake.py:1 f: 61 lines"]
    assert long_functions(_tree(f"def f() -> None:\n{body[: body.rindex(chr(10))]}\n")) == []


def test_the_sql_check_finds_queries_and_only_queries() -> None:
    queries = (
        "rows = session.exec(select(Shop)).all()\n"
        'conn.execute(text("SELECT 1"))\n'
        "stmt = sqlmodel.select(Shop)\n"
    )
    assert len(sql_outside_store(_tree(queries))) == 5
    harmless = (
        "with click.progressbar(items) as bar: pass\n"
        "line = report_text(view)\n"
        'doc = "use select(Shop) in store/"\n'
        "chosen = selectors.select(1)\n"
    )
    assert sql_outside_store(_tree(harmless)) == []
    store = {"store.fake": (ROOT / "store" / "fake.py", ast.parse(queries))}
    assert sql_outside_store(store) == []
    # A partial index's predicate in the table definitions is schema; elsewhere a query.
    predicate = ast.parse("where = text(\"status = 'pending'\")\n")
    assert sql_outside_store({"models.tables": (ROOT / "models" / "tables.py", predicate)}) == []
    assert len(sql_outside_store({"models.other": (ROOT / "models" / "o.py", predicate)})) == 1


def test_the_cycle_finder_finds_an_injected_cycle() -> None:
    graph = import_graph(project_modules())
    assert find_cycle({**graph, "store.db": {*graph["store.db"], "linkhandler.app"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a"}}) is None


def test_the_layer_check_finds_an_import_upwards_and_one_beside() -> None:
    graph = all_imports(project_modules())
    assert layer_violations(graph) == []
    upwards = {**graph, "store.db": {*graph["store.db"], "client.temporal"}}
    assert layer_violations(upwards) == ["store.db imports client.temporal"]
    beside = {**graph, "api.app": {*graph["api.app"], "web.state"}}
    assert layer_violations(beside) == ["api.app imports web.state"]
    assert find_cycle(package_graph({"web.a": {"api.b"}, "api.b": {"web.c"}})) is not None


def test_the_layer_check_counts_deferred_imports() -> None:
    deferred = {
        "web.x": (ROOT / "web" / "x.py", ast.parse("def f() -> None:\n    from cli import y\n")),
        "cli.y": (ROOT / "cli" / "y.py", ast.parse("")),
    }
    assert layer_violations(all_imports(deferred)) == ["web.x imports cli.y"]


def test_the_import_graph_reads_every_form_of_import() -> None:
    modules = {
        "pkg": (ROOT / "pkg" / "__init__.py", ast.parse("")),
        "pkg.a": (ROOT / "pkg" / "a.py", ast.parse("from . import b\nimport pkg.c\n")),
        "pkg.b": (ROOT / "pkg" / "b.py", ast.parse("from pkg.c import thing\n")),
        "pkg.c": (
            ROOT / "pkg" / "c.py",
            ast.parse(
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg import a\n"
                "def later() -> None:\n    from pkg import a\n"
            ),
        ),
    }
    assert import_graph(modules) == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.c"},
        "pkg.b": {"pkg.c"},
        "pkg.c": set(),
    }


# --- no issue numbers ----------------------------------------------------------------------

ISSUE_NUMBER = re.compile(r"(?<![a-z])issues?[ _]?#?\d", re.IGNORECASE)
"""An issue cited by its number (in prose, as a heading or in a test's name): a number a
reader of the repository cannot follow. Cite the rule (R-number) or the decision's title
in docs/decisions.md instead."""
CITING_SUFFIXES = {".py", ".md", ".toml", ".sh", ".html", ".txt", ".cfg", ".ini", ".yml"}
NOT_CITING = {"CHANGELOG.md"}
"""The changelog records history, issue numbers included."""
UNREAD = {"var", "test-artifacts", "node_modules", "shop_access.egg-info", "__pycache__"}
"""Output and installed packages, not the project's text; hidden folders too, but .ci."""


def citing_files(root: Path = ROOT) -> Iterator[Path]:
    """The project's text files: code, tests, docs, templates, scripts and CI."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in UNREAD and (d == ".ci" or d[0] != "."))
        top = Path(folder).relative_to(root).parts[:1]
        for name in sorted(files):
            path = Path(folder) / name
            if name not in NOT_CITING and (
                path.suffix in CITING_SUFFIXES or top in {("scripts",), (".ci",)}
            ):
                yield path


def cited_issue_numbers(root: Path = ROOT) -> list[str]:
    """Every line of code, tests, docs and scripts that cites an issue by number."""
    return [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in citing_files(root)
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if ISSUE_NUMBER.search(line)
    ]


def test_house_no_issue_number_cited_in_code_tests_or_docs() -> None:
    found = cited_issue_numbers()
    assert not found, "cite the rule or the decision's title instead:\n" + "\n".join(found)


def test_the_issue_number_check_finds_every_spelling(tmp_path: Path) -> None:
    word = "iss" + "ue"  # spelled apart so that this file does not cite one itself
    (tmp_path / "docs").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "a.py").write_text(f"# fixed in {word} 12\ndef test_{word}9_x(): pass\n")
    (tmp_path / "docs" / "b.md").write_text(f"See {word.title()} #8 and {word}s 10.\n")
    (tmp_path / "scripts" / "run").write_text(f"# {word}12\n")
    (tmp_path / "CHANGELOG.md").write_text(f"- {word} 12\n")
    (tmp_path / "c.py").write_text("# R12, S3, tissue 4 is not one, sdk-python#300 neither\n")
    assert [line.split(":")[0:2] for line in cited_issue_numbers(tmp_path)] == [
        ["a.py", "1"],
        ["a.py", "2"],
        ["docs/b.md", "1"],
        ["scripts/run", "1"],
    ]
