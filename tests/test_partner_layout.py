"""Where the partner side's rules live (issue 9): its activities and service call store/
and hold no query; no function of the partner side or the mail is over 60 lines; store/
has no import cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 60
SQL = re.compile(r"\bselect\(|\.exec\(|\.execute\(|\btext\(|\bsession\.get\(")

CALLERS = [
    "activities/partners.py",
    "activities/campaigns.py",
    "activities/mailer.py",
    "activities/delivery.py",
    "activities/emails.py",
    "service/partners.py",
]
PARTNER_AND_MAIL = [
    *CALLERS,
    "store/members.py",
    "store/sharing.py",
    "store/invitations.py",
    "store/campaigns.py",
    "store/removal.py",
    "store/partner_refusals.py",
    "store/mail_context.py",
    "store/deliveries.py",
]


@pytest.mark.parametrize("path", CALLERS)
def test_no_query_outside_store(path: str) -> None:
    found = [
        f"{path}:{n}: {line.strip()}"
        for n, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_the_query_check_can_fail() -> None:
    assert SQL.search("rows = session.exec(select(Shop)).all()")
    assert not SQL.search("subject = header_text(email.subject)")


@pytest.mark.parametrize("path", PARTNER_AND_MAIL)
def test_no_function_over_60_lines(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    long = [
        f"{node.name} ({(node.end_lineno or node.lineno) - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def _store_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("store.")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "store":
                found |= {f"store.{a.name}" for a in node.names}
            elif node.module.startswith("store."):
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


def test_store_modules_import_no_cycle() -> None:
    graph = {
        f"store.{p.stem}": _store_imports(ast.parse(p.read_text()))
        for p in sorted((ROOT / "store").glob("*.py"))
        if p.stem != "__init__"
    }
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_the_cycle_check_can_fail() -> None:
    assert _cycle({"store.a": {"store.b"}, "store.b": {"store.a"}}) == [
        "store.a",
        "store.b",
        "store.a",
    ]
