"""The web layer's shape (issue 9): no import cycle among web/'s modules, no SQL in web/
(queries live in store/), no function over 60 lines, and every store read off the event
loop (no async route or dependency calls the store directly)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
MAX_FUNCTION_LINES = 60
SQL = re.compile(r"\bselect\(|\.exec\(|\btext\(|\bread_session\(|\bwrite_session\(")


def _modules() -> dict[str, ast.Module]:
    return {
        "web" if p.stem == "__init__" else f"web.{p.stem}": ast.parse(p.read_text())
        for p in sorted(WEB.glob("*.py"))
    }


def _web_imports(tree: ast.Module) -> set[str]:
    """The web modules a module imports at any level (``from web import x`` included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("web.")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "web":
                found |= {f"web.{a.name}" for a in node.names}
            elif node.module.startswith("web."):
                found.add(node.module)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
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


def test_web_modules_import_no_cycle() -> None:
    graph = {name: _web_imports(tree) for name, tree in _modules().items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_cycle_check_finds_a_cycle() -> None:
    # The check above must be able to fail.
    assert _cycle({"web.a": {"web.b"}, "web.b": {"web.c"}, "web.c": {"web.a"}}) == [
        "web.a",
        "web.b",
        "web.c",
        "web.a",
    ]


def test_no_sql_in_web() -> None:
    """Queries and rules live in store/ (store/seller_views.py, store/partner_views.py)."""
    found = [
        f"web/{p.name}:{n}"
        for p in sorted(WEB.glob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_sql_pattern_finds_queries() -> None:
    assert SQL.search("rows = session.exec(select(Shop))")
    assert SQL.search("with read_session(engine) as session:")
    assert not SQL.search('"grant_text": grant_text(view.method, view.bc_name)')


def test_no_function_over_60_lines() -> None:
    long = [
        f"{name}.{node.name}: {(node.end_lineno or node.lineno) - node.lineno + 1} lines"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_async_routes_reach_the_store_only_through_the_thread_pool() -> None:
    """An async route awaits Temporal; anything reading the store from one goes through
    run_in_threadpool, so no store read holds up the event loop."""
    store_calls = []
    for name, tree in _modules().items():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.AsyncFunctionDef):
                continue
            for call in ast.walk(fn):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id
                    in ("seller_views", "partner_views", "sessions", "link_asks")
                ):
                    store_calls.append(f"{name}.{fn.name}: {call.func.value.id}.{call.func.attr}")
    assert store_calls == []
