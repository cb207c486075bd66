"""The web layer's own shape: no SQL and no store session in web/ (queries live
in store/), and every store read off the event loop (no async route or dependency calls
the store directly). The whole project's checks (import cycles, function length, SQL
outside store/) are tests/test_house.py's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
SQL = re.compile(r"\bselect\(|\.exec\(|\btext\(|\bread_session\(|\bwrite_session\(")


def _modules() -> dict[str, ast.Module]:
    return {
        "web" if p.stem == "__init__" else f"web.{p.stem}": ast.parse(p.read_text())
        for p in sorted(WEB.glob("*.py"))
    }


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
