"""The Babel extractor for models/wording.py (babel.cfg): every CATALOGUE entry becomes a
message whose context is its code, so the code stays the stable id a translation hangs on
while the English may be reworded (R28). Read with ``ast``: extraction imports nothing."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

PLACEHOLDER_NOTE = (
    "Words in {braces} are filled in by the service (ids, names, dates): keep each one, "
    "spelled exactly so; move it where the sentence needs it."
)


def _catalogue(tree: ast.Module) -> ast.Dict | None:
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and target.id == "CATALOGUE":
            return value if isinstance(value, ast.Dict) else None
    return None


def extract_wording(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Yield ``(line, "pgettext", (code, English), comments)`` per CATALOGUE entry."""
    del keywords, comment_tags, options
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    catalogue = _catalogue(ast.parse(source))
    if catalogue is None:
        return
    for key, value in zip(catalogue.keys, catalogue.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(value, ast.Constant)):
            continue
        code, text = key.value, value.value
        if not (isinstance(code, str) and isinstance(text, str)):
            continue
        comments = [f"Refusal code {code}."]
        # A "# ..." line right above an entry is a note for translators too.
        above = lines[key.lineno - 2].strip() if key.lineno >= 2 else ""
        if above.startswith("#") and not above.startswith("# ---"):
            comments.append(above.lstrip("# "))
        if "{" in text:
            comments.append(PLACEHOLDER_NOTE)
        yield key.lineno, "pgettext", (code, text), comments
