"""What ``scripts/i18n`` runs: pybabel extract, update, compile, and the catalogue check.

The check is what CI relies on (R28): the committed ``locale/messages.pot`` must equal a
fresh extraction (dates aside), every shipped ``.po`` must hold exactly the template's
messages, and each must be translated (not empty, not fuzzy) in every shipped language.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"
POT = LOCALE / "messages.pot"
PYBABEL = str(Path(sys.executable).with_name("pybabel"))
# The shipped languages besides English, the source (models/i18n.KNOWN).
LANGUAGES = ("id", "ms", "th", "vi", "zh_Hans")


def pybabel(*args: str) -> None:
    subprocess.run([PYBABEL, "-q", *args], cwd=ROOT, check=True)


def extract(output: Path) -> None:
    pybabel(
        "extract",
        "--mapping-file=babel.cfg",
        f"--output-file={output}",
        "--add-comments=Translators:",
        "--add-location=file",
        "--sort-by-file",
        "--width=100",
        "--project=Shop Access",
        "--copyright-holder=Shop Access",
        "--version=0",
        ".",
    )


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "messages.po"


def update() -> None:
    extract(POT)
    for language in LANGUAGES:
        if not po_path(language).exists():
            pybabel(
                "init",
                f"--input-file={POT}",
                f"--output-dir={LOCALE}",
                f"--locale={language}",
                "--width=100",
            )
    pybabel(
        "update",
        f"--input-file={POT}",
        f"--output-dir={LOCALE}",
        "--width=100",
        "--ignore-obsolete",
    )


def compile_all() -> None:
    pybabel("compile", f"--directory={LOCALE}", "--statistics")


def _read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def _entries(catalog: Catalog) -> dict[tuple[str, str | None], tuple[list[str], str]]:
    """Each message's (id, context) -> (its locations and comments, flattened), so a moved
    or re-commented message counts as a change too."""
    found = {}
    for message in catalog:
        if not message.id:
            continue
        key = (str(message.id), message.context)
        found[key] = (
            sorted(f"{path}" for path, _line in message.locations),
            "\n".join(message.auto_comments),
        )
    return found


def check() -> int:
    problems: list[str] = []
    if not POT.exists():
        print("locale/messages.pot is missing: run scripts/i18n update", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "messages.pot"
        extract(fresh)
        if _entries(_read(fresh)) != _entries(_read(POT)):
            problems.append(
                "locale/messages.pot is stale: the templates or the marked Python changed; "
                "run scripts/i18n update and commit locale/"
            )
    template = {key for key in _entries(_read(POT))}
    untranslated: list[str] = []
    for language in LANGUAGES:
        path = po_path(language)
        shown = path.relative_to(LOCALE.parent)
        if not path.exists():
            problems.append(f"{shown} is missing: run scripts/i18n update")
            continue
        catalog = _read(path)
        keys = {key for key in _entries(catalog)}
        if keys != template:
            problems.append(
                f"{shown} is stale ({len(template - keys)} messages missing, "
                f"{len(keys - template)} extra): run scripts/i18n update"
            )
        empty = fuzzy = 0
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy:
                fuzzy += 1
            elif not all(strings):
                empty += 1
        if empty or fuzzy:
            untranslated.append(
                f"{language}: {empty} untranslated and {fuzzy} fuzzy of {len(keys)} messages"
            )
    for line in problems:
        print(line, file=sys.stderr)
    allow = os.environ.get("I18N_ALLOW_UNTRANSLATED") == "1"
    for line in untranslated:
        print(("(allowed for now) " if allow else "") + line, file=sys.stderr)
    if problems or (untranslated and not allow):
        return 1
    print(f"catalogues current: {len(template)} messages, {len(LANGUAGES)} languages")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        extract(POT)
    elif command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        return check()
    else:
        print("usage: scripts/i18n extract|update|compile|check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
