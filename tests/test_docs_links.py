"""The docs' links lead somewhere: every relative link in README.md and docs/*.md names a
file of the repository, and every ``#anchor`` a heading of the page it points to (as
GitHub makes heading anchors). A page renamed or a heading reworded without its links
fails here, before a reader meets the dead end. So does a backticked repository path
(``store/end_dates.py``) naming a file that is gone, docs/testing.md's list of test
modules drifting from tests/ (a module not listed, or a listed one that no longer exists),
a decision cited by its title (``docs/decisions.md, "Names"``) that is no heading there,
and a package map (README.md's table, docs/architecture.md's) that is not the tree."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """``text`` without its fenced code blocks (a shell example is not a link)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept)


def anchor_of(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            base = anchor_of(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{page.relative_to(root)}: {target} (no such heading)")
    return broken


def test_every_relative_link_in_the_docs_resolves() -> None:
    # The changelog's links too; its backticked paths may name what a release removed.
    broken = [line for page in [*pages(), ROOT / "CHANGELOG.md"] for line in broken_links(page)]
    assert broken == [], "fix these links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# Title\n## The CLI's error contract (R8)\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#the-clis-error-contract-r8) [ok](#here) [web](https://x.example/#y)\n"
        "# Here\n[gone](c.md) [moved](b.md#errors)\n```\n[code](nowhere.md)\n```\n"
    )
    assert broken_links(page, tmp_path) == [
        "a.md: c.md (no such file)",
        "a.md: b.md#errors (no such heading)",
    ]


# --- backticked repository paths -----------------------------------------------------------

CODE_SPAN = re.compile(r"`([^`\n]+)`")
PATH_TOKEN = re.compile(r"^[\w.\-/]*\w\.(?:py|md|html|json)$")
NOT_REPO = re.compile(r"[<>*{}…~$]|^/|^\.\./|^(?:var|test-artifacts|node_modules|temporalio)/")
"""Placeholders (``<Type>_<case>.json``), globs, absolute paths and run-time output are not
files of the repository; nor is anything under ``var/`` or ``test-artifacts/``."""
UNWALKED = {".git", ".venv", "var", "test-artifacts", "node_modules", "__pycache__"}


def repo_files(root: Path = ROOT) -> list[str]:
    """Every file of the checkout as a relative POSIX path, output and installs left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in UNWALKED and not d.endswith(".egg-info")]
        rel = Path(folder).relative_to(root)
        found += [(rel / name).as_posix() for name in files]
    return found


def path_tokens(text: str) -> list[str]:
    """The file paths written in ``text``'s code spans (the words of ``a b.py`` too)."""
    tokens = []
    for span in CODE_SPAN.findall(prose(text)):
        for word in span.split():
            word = word.strip("\"'(),;:")
            if PATH_TOKEN.match(word) and not NOT_REPO.search(word) and "://" not in word:
                tokens.append(word.removeprefix("./"))
    return tokens


def stale_paths(page: Path, root: Path = ROOT, files: list[str] | None = None) -> list[str]:
    """Paths in ``page`` that name no file: a path with a folder must be a file's path
    (from the root, from the page's folder, or the tail of a longer one, as
    ``data/demo.json`` under ``devtools/``); a bare name must be some file's name."""
    files = repo_files(root) if files is None else files
    names = {Path(f).name for f in files}
    stale = []
    for token in path_tokens(page.read_text(encoding="utf-8")):
        if "/" not in token:
            found = token in names
        else:
            found = (
                (root / token).is_file()
                or (page.parent / token).is_file()
                or any(f.endswith("/" + token) for f in files)
            )
        if not found:
            stale.append(f"{page.relative_to(root)}: {token}")
    return stale


def test_every_backticked_path_in_the_docs_exists() -> None:
    files = repo_files()
    stale = [line for page in pages() for line in stale_paths(page, ROOT, files)]
    assert stale == [], "these paths name no file of the repository:\n" + "\n".join(stale)


def test_the_path_check_finds_a_renamed_module(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "end_dates.py").write_text("")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "`store/end_dates.py` and `end_dates.py`, `python -m x store/expiry.py`, "
        "`access_until.py`; not paths: `var/outbox/a.json`, `<Type>_<case>.json`, "
        "`/tmp/h/x.json`, `AccessEnd_*.json`, `https://x.example/a.py`\n"
        "```\nservice/gone.py\n```\n"
    )
    assert stale_paths(page, tmp_path) == [
        "docs/a.md: store/expiry.py",
        "docs/a.md: access_until.py",
    ]


# --- docs/testing.md names every test module, once, and only those that exist -------------

TEST_MODULE = re.compile(r"(?<![\w/.-])(?:tests/|\.\./)?((?:[a-z_]+/)*test_\w+\.py)")
"""A test module's name as this page writes it: from tests/ (``web/test_links.py``), with
``tests/`` before it, or as ``../test_x.py`` from a table of a subfolder's modules."""


def modules_under_tests(root: Path = ROOT) -> set[str]:
    tests = root / "tests"
    return {p.relative_to(tests).as_posix() for p in tests.rglob("test_*.py")}


def drift_of_testing_md(root: Path = ROOT) -> tuple[list[str], list[str]]:
    """(modules docs/testing.md does not name, names in it that are no module). A name is
    relative to tests/ (``web/test_links.py``); a bare name stands for the one module of
    that name in any folder of tests/."""
    modules = modules_under_tests(root)
    by_name: dict[str, set[str]] = {}
    for module in modules:
        by_name.setdefault(Path(module).name, set()).add(module)
    named: set[str] = set()
    unknown: list[str] = []
    for mention in TEST_MODULE.findall((root / "docs" / "testing.md").read_text("utf-8")):
        if mention in modules:
            named.add(mention)
        elif "/" not in mention and len(by_name.get(mention, ())) == 1:
            named |= by_name[mention]
        elif mention not in unknown:
            unknown.append(mention)
    return sorted(modules - named), unknown


def rows_twice(root: Path = ROOT) -> list[str]:
    """Modules that head more than one row of docs/testing.md's tables (one row each)."""
    seen: dict[str, int] = {}
    for line in (root / "docs" / "testing.md").read_text("utf-8").splitlines():
        first = line.split("|")[1] if line.startswith("|") else ""
        if "::" not in first:  # a durations table names tests, not modules
            for name in TEST_MODULE.findall(first):
                seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)


def test_testing_md_names_every_test_module_and_no_other() -> None:
    missing, unknown = drift_of_testing_md()
    assert missing == [], "docs/testing.md does not say what these prove:\n" + "\n".join(missing)
    assert rows_twice() == [], "docs/testing.md has two rows for one module"
    assert unknown == [], "docs/testing.md names modules that do not exist:\n" + "\n".join(unknown)


def test_the_testing_md_check_finds_a_missing_and_a_gone_module(tmp_path: Path) -> None:
    (tmp_path / "tests" / "web").mkdir(parents=True)
    for name in ("test_a.py", "test_b.py", "web/test_c.py", "web/test_d.py"):
        (tmp_path / "tests" / name).write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "testing.md").write_text(
        "| `test_a.py` | a |\n| `tests/web/test_c.py` | c |\n| `test_d.py` | d |\n"
        "| `test_result_models.py` | gone |\n`scripts/test tests/test_*.py`\n"
    )
    assert drift_of_testing_md(tmp_path) == (["test_b.py"], ["test_result_models.py"])
    (tmp_path / "docs" / "testing.md").write_text(
        "| `test_a.py` (slow) | a |\n| `test_b.py`, `test_a.py` | b |\n| 3s | `test_b.py::t` |\n"
    )
    assert rows_twice(tmp_path) == ["test_a.py"]


# --- a decision cited by its title is there -------------------------------------------------

CITED_DECISION = re.compile(r'decisions\.md[,:]?\s*"([^"]+)"')
CITING_SUFFIXES = (".py", ".md", ".html", ".txt")


def decision_titles(root: Path = ROOT) -> list[str]:
    """docs/decisions.md's headings, as plain words (backticks and quotes dropped)."""
    text = prose((root / "docs" / "decisions.md").read_text(encoding="utf-8"))
    return [plain(m) for m in re.findall(r"^#{2,3}\s+(.*)$", text, re.M)]


def plain(text: str) -> str:
    """A title as words: comment markers of a wrapped line, quotes and backticks dropped."""
    text = re.sub(r"\n\s*#\s*", " ", text)
    return " ".join(re.sub(r"[`\"“”]", "", text).split()).lower()


def unknown_decisions(root: Path = ROOT) -> list[str]:
    """Citations ``docs/decisions.md, "Title"`` whose title is in no heading there (a title
    may be cited shortened: ``"claim before send"`` for "E-mail: claim before send")."""
    titles = decision_titles(root)
    unknown = []
    for path in repo_files(root):
        if not path.endswith(CITING_SUFFIXES) or path == "tests/test_docs_links.py":
            continue  # this file's examples are not citations
        text = (root / path).read_text(encoding="utf-8", errors="replace")
        for cited in CITED_DECISION.findall(text):
            if not any(plain(cited) in title for title in titles):
                unknown.append(f"{path}: {plain(cited)}")
    return unknown


def test_every_decision_cited_by_title_exists() -> None:
    unknown = unknown_decisions()
    assert unknown == [], "no such decision in docs/decisions.md:\n" + "\n".join(unknown)


def test_the_decision_check_finds_a_renamed_title(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "decisions.md").write_text(
        '# D\n## Topic\n### E-mail: claim before send\n### "Add my shop" is an upgrade\n'
    )
    (tmp_path / "a.py").write_text(
        '# docs/decisions.md, "E-mail: claim before send"; docs/decisions.md "claim before\n'
        '# send"; (docs/decisions.md: "Add my\n# shop" is); docs/decisions.md, "Names"\n'
    )
    assert unknown_decisions(tmp_path) == ["a.py: names"]


# --- the package map in README.md and docs/architecture.md is the tree ----------------------


def table_paths(page: Path, section: str) -> set[str]:
    """The backticked names in the first column of ``section``'s table on ``page``."""
    text = prose(page.read_text(encoding="utf-8"))
    body = text.split(section, 1)[1].split("\n#", 1)[0]
    names: set[str] = set()
    for line in body.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            first = cells[2] if cells[1].strip().isdigit() else cells[1]  # a layer column
            names |= set(re.findall(r"`([^`]+)`", first))
    return names


def top_folders(root: Path = ROOT) -> set[str]:
    """The repository's top-level folders: the code's packages, tests, tooling, data."""
    return {
        f"{path.name}/"
        for path in root.iterdir()
        if path.is_dir()
        and path.name not in UNWALKED
        and not path.name.startswith(".")
        and not path.name.endswith(".egg-info")
        and path.name not in {"docs", "build", "dist"}  # docs: README links each page
    }


def test_readme_names_every_top_level_folder_and_only_those() -> None:
    named = {p for p in table_paths(ROOT / "README.md", "## Where things are") if "." not in p}
    assert named == top_folders()


def test_architecture_package_map_is_the_house_rules_layers() -> None:
    from tests.test_house import LAYERS

    packages = {
        p.rstrip("/").removesuffix(".py")
        for p in table_paths(ROOT / "docs" / "architecture.md", "## Package map")
    }
    assert packages == set().union(*LAYERS)
