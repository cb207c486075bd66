"""Print or write the ops API's OpenAPI schema (R26, docs/api.md): the one the API
serves at /api/v1/openapi.json (api/schema.py), committed as docs/openapi.json.

    .venv/bin/python -m api.openapi > docs/openapi.json
    .venv/bin/python -m api.openapi --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from api.app import create_api
from client.context import ClientContext

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
REGENERATE = ".venv/bin/python -m api.openapi --write"


def schema() -> dict[str, Any]:
    """The served schema, from the API built with no state: its routes are all it reads."""
    api = create_api(cast(ClientContext, None))
    return api.openapi()


def schema_text(found: dict[str, Any] | None = None) -> str:
    """The schema as committed: indented, keys in FastAPI's order, one final newline."""
    return json.dumps(schema() if found is None else found, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.openapi", description="Print the ops API's OpenAPI schema."
    )
    parser.add_argument("--write", action="store_true", help=f"write it to {COMMITTED}")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.write:
        COMMITTED.write_text(text, encoding="utf-8")
        print(f"wrote {COMMITTED}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
