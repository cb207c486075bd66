"""docs/errors.md is the one table of error codes, and it is what the code decides
(cli/error_table.py generates it): a code added, a status or exit status changed, or
a sentence reworded without regenerating fails here."""

from __future__ import annotations

import re
from pathlib import Path

from api.errors import STATUS_OF
from cli import error_table
from models.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]


def test_docs_errors_md_is_what_the_catalogue_generates() -> None:
    committed = error_table.COMMITTED.read_text(encoding="utf-8")
    assert committed == error_table.markdown(), (
        f"docs/errors.md is stale: run {error_table.REGENERATE}"
    )


def test_every_code_says_when_it_is_answered() -> None:
    missing = [str(code) for code in ErrorCode if code not in error_table.WHEN]
    assert missing == [], f"add these codes to WHEN in cli/error_table.py: {missing}"
    assert set(error_table.WHEN) <= set(ErrorCode), "WHEN names a code that no longer exists"


def test_each_row_holds_the_status_the_api_answers_and_the_cli_exit_status() -> None:
    table = {row[0].strip("`"): row for row in error_table.rows()}
    assert len(table) == len(ErrorCode)
    assert table["daily_limit_reached"][1] == str(STATUS_OF["daily_limit_reached"]) == "409"
    assert table["usage_error"][2] == "2"
    assert table["interrupted"][1:3] == ("—", "130")
    assert table["unauthenticated"][1:3] == ("401", "—")
    assert "today" in table["daily_limit_reached"][3]


CODE_ROW = re.compile(r"^\|\s*((?:`[a-z_]+`\s*/?\s*)+)\|\s*([^|]*?)\s*\|")
CATALOGUE_SIZE = 8
"""A table with this many code rows is a copy of the catalogue, not one call's codes."""


def code_tables(text: str) -> list[list[tuple[int, list[str], str]]]:
    """Each markdown table's rows that start with codes: (line, codes, second cell)."""
    tables: list[list[tuple[int, list[str], str]]] = [[]]
    for number, line in enumerate(text.splitlines(), 1):
        match = CODE_ROW.match(line)
        if match:
            codes = re.findall(r"`([a-z_]+)`", match.group(1))
            if set(codes) <= set(ErrorCode):
                tables[-1].append((number, codes, match.group(2)))
        elif not line.startswith("|") and tables[-1]:
            tables.append([])
    return [t for t in tables if t]


def other_docs() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [path for path in docs if path != error_table.COMMITTED]


def test_no_other_doc_copies_the_catalogue() -> None:
    # One table: a second copy is the one that goes stale. A call's own few codes may be
    # tabled with what they mean for that call; the whole list lives in docs/errors.md.
    copies = [
        f"{path.relative_to(ROOT)}:{table[0][0]}"
        for path in other_docs()
        for table in code_tables(path.read_text(encoding="utf-8"))
        if len(table) >= CATALOGUE_SIZE
    ]
    assert copies == [], f"error-code catalogues outside docs/errors.md: {copies}"


def test_a_status_named_next_to_a_code_is_the_one_the_api_answers() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {code} is {STATUS_OF[code]}, not {cell}"
        for path in other_docs()
        for table in code_tables(path.read_text(encoding="utf-8"))
        for number, codes, cell in table
        if cell.isdigit()
        for code in codes
        if str(STATUS_OF.get(code)) != cell
    ]
    assert wrong == []


def test_the_catalogue_check_finds_a_copied_table() -> None:
    copied = "\n".join(error_table.markdown().splitlines()[-CATALOGUE_SIZE:])
    assert [len(t) for t in code_tables("text\n" + copied + "\n\nmore")] == [CATALOGUE_SIZE]


def test_the_docs_that_name_codes_link_the_table() -> None:
    for name in ("README.md", "docs/api.md", "docs/partners.md", "docs/operations.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "errors.md" in text, f"{name} should link docs/errors.md"
