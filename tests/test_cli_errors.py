"""The CLI's error contract (docs/operations.md; codes in docs/errors.md): every failure
of every command, usage errors included, gives with --json exactly one
{"error": {"code", "message"}} object on stdout and a non-zero exit, without --json one
line on stderr, never a traceback; and nothing changes (the store file's bytes, its rows).

Most cases run in-process through click's CliRunner (the group's ``main`` reports the
failure; ``starter.main``'s ``os._exit`` is not involved); a few run ``starter.py`` as a
process, where ``sys.argv`` and the exit status matter. None of them needs Temporal:
TEMPORAL_ADDRESS points at a closed port, so a command that reached it would fail with
service_unavailable instead of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text

import store.db
from models.reference import ReferenceData
from starter import cli
from store.db import make_engine
from tests.conftest import AGENCY, ANA, DEMO, OLI, S1_SHOP

ROOT = Path(__file__).resolve().parent.parent
TOO_BIG = str(2**64)
CLOSED_TEMPORAL = "127.0.0.1:1"
POSTGRES_DOWN = "postgresql+psycopg://shop:secret@127.0.0.1:1/shop_access"


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def error(self, code: str, exit_code: int = 1) -> str:
        """Assert the JSON error contract for ``code``; returns the message."""
        assert "Traceback" not in self.stdout + self.stderr, self.stderr
        assert self.exit_code == exit_code, (self.stdout, self.stderr)
        lines = self.stdout.strip().splitlines()
        assert len(lines) == 1, f"expected one JSON line, got {self.stdout!r}"
        body = json.loads(lines[0])
        assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}
        assert body["error"]["code"] == code, body
        message = body["error"]["message"]
        assert isinstance(message, str) and message.strip()
        return message


def invoke(args: list[str], url: str, **env: str) -> Outcome:
    result = CliRunner().invoke(
        cli,
        args,
        env={"DATABASE_URL": url, "DEV_MODE": "1", "TEMPORAL_ADDRESS": CLOSED_TEMPORAL, **env},
        catch_exceptions=False,
    )
    return Outcome(result.exit_code, result.stdout, result.stderr)


def with_json(args: list[str], first: bool) -> list[str]:
    """``--json`` right after the command name, or last (after the bad option)."""
    return [args[0], "--json", *args[1:]] if first else [*args, "--json"]


def fingerprint(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                for t in inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


@pytest.fixture()
def store_file(demo: Engine) -> Iterator[Path]:
    """The demo store as a file at rest (its WAL checkpointed), so its bytes can be compared."""
    demo.dispose()
    assert demo.url.database is not None
    yield Path(demo.url.database)


def _refuses_big_ids() -> bool:
    """Whether ReferenceData bounds ids (models/fields.DbId, from the "inputs" work)."""
    bc = {"id": 2**64, "name": "X", "type": "agency", "country": "SG", "timezone": "UTC"}
    try:
        ReferenceData.model_validate({"business_centers": [bc]})
    except ValueError:
        return True
    return False


needs_bounded_reference = pytest.mark.skipif(
    not _refuses_big_ids(), reason="needs ReferenceData with models.fields types"
)

# --- bad invocations on a healthy store -------------------------------------------------------

REQUEST = ["--shop-code", S1_SHOP, "--as", ANA]
BAD_INVOCATIONS: list[Any] = [
    # (args, code, exit status, words the message must contain)
    (["request-access", "--bc", "abc", *REQUEST], "invalid_input", 1, "'--bc'"),
    (["add-my-shop", "--bc", TOO_BIG, *REQUEST], "invalid_input", 1, "out of range"),
    (["request-access", "--bc", "0", *REQUEST], "invalid_input", 1, "out of range"),
    (["requests", "--bc", "12.5"], "invalid_input", 1, "not a number"),
    (["campaigns", "--bc", TOO_BIG], "invalid_input", 1, "out of range"),
    (["shops", "--bc", "-1"], "invalid_input", 1, "out of range"),
    (
        [
            "share-shop",
            "--bc",
            TOO_BIG,
            "--shop-code",
            S1_SHOP,
            "--partner-bc",
            "2",
            "--permission",
            "manager",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "out of range",
    ),
    (
        [
            "share-shop",
            "--bc",
            str(AGENCY),
            "--shop-code",
            S1_SHOP,
            "--partner-bc",
            TOO_BIG,
            "--permission",
            "manager",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "'--partner-bc'",
    ),
    (
        ["remove-access", "--shop-code", S1_SHOP, "--partner-bc", TOO_BIG, "--as", OLI],
        "invalid_input",
        1,
        "out of range",
    ),
    (
        [
            "create-campaign",
            "--ad-account",
            TOO_BIG,
            "--shop-code",
            S1_SHOP,
            "--name",
            "X",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "'--ad-account'",
    ),
    (
        [
            "create-campaign",
            "--ad-account",
            "1",
            "--shop-code",
            S1_SHOP,
            "--name",
            "Sale\r\nBcc: all",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "control characters",
    ),
    (
        ["approve", "R1", "--as", OLI, "--new-bc-name", "Evil\nCo", "--timezone", "UTC"],
        "invalid_input",
        1,
        "'--new-bc-name'",
    ),
    (
        ["approve", "R1", "--as", OLI, "--bc", "1", "--new-bc-name", "Co"],
        "invalid_input",
        1,
        "not both",
    ),
    (
        [
            "invite-member",
            "--bc",
            str(AGENCY),
            "--email",
            "x@example.com",
            "--role",
            "admin",
            "--ad-account",
            f"{TOO_BIG}:admin",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "ID:PERMISSION",
    ),
    (
        [
            "assign-member",
            "--bc",
            str(AGENCY),
            "--shop-code",
            S1_SHOP,
            "--member",
            ANA,
            "--permission",
            "owner",
            "--as",
            ANA,
        ],
        "invalid_input",
        1,
        "'--permission'",
    ),
    (["requests"], "invalid_input", 1, "exactly one of a Business Center (--bc on the CLI"),
    (["shops"], "usage_error", 2, "Missing option '--bc'"),
    (["request-access", "--bc", "1", "--as", ANA], "usage_error", 2, "'--shop-code'"),
    (["status"], "usage_error", 2, "REQUEST_ID"),
    (["status", "R1", "R2"], "usage_error", 2, "unexpected extra argument"),
    (["migrate", "--bogus"], "usage_error", 2, "--bogus"),
    (["load", "--bc", "1", str(DEMO)], "usage_error", 2, "--bc"),
    (["frobnicate"], "usage_error", 2, "frobnicate"),
]


@pytest.mark.parametrize("json_first", [False, True], ids=["json-last", "json-first"])
@pytest.mark.parametrize(("args", "code", "exit_code", "words"), BAD_INVOCATIONS)
def test_bad_invocation_is_one_json_error_and_changes_nothing(
    store_file: Path, args: list[str], code: str, exit_code: int, words: str, json_first: bool
) -> None:
    before = fingerprint(store_file)
    outcome = invoke(with_json(args, json_first), f"sqlite:///{store_file}")
    assert words in outcome.error(code, exit_code)
    assert fingerprint(store_file) == before


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["request-access", "--bc", "abc", *REQUEST], "invalid_input"),
        (["shops"], "usage_error"),
        (["frobnicate"], "usage_error"),
        (["load", "missing.json"], "invalid_input"),
        (["status", "R-none"], "unknown_request"),
    ],
)
def test_without_json_a_failure_is_one_line_on_stderr(
    store_file: Path, args: list[str], code: str
) -> None:
    outcome = invoke(args, f"sqlite:///{store_file}")
    assert outcome.exit_code != 0 and outcome.stdout == ""
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
    assert f"({code})" in outcome.stderr and "Traceback" not in outcome.stderr


# --- load: every problem with the file is invalid_input, and nothing is stored ----------------


def _bad_files(tmp: Path) -> list[tuple[str, Path, str]]:
    demo = json.loads(DEMO.read_text())
    big = json.loads(DEMO.read_text())
    big["business_centers"][0]["id"] = 2**64
    crlf = json.loads(DEMO.read_text())
    crlf["shops"][0]["name"] = "Linked\r\nBrand"
    # R30: a JSON number beyond 2^53 may already be another id (rounded by the tool that
    # wrote the file); ids are strings of digits.
    rounded = json.loads(DEMO.read_text())
    rounded["shops"][0]["linked_bc"] = 2**53 + 1
    mars = {"business_centers": [{**demo["business_centers"][0], "timezone": "Mars/Base"}]}
    files = {
        "binary.json": (bytes(range(256)) * 8, "not UTF-8"),
        "invalid.json": (b'{"users": [', "Invalid JSON"),
        "schema.json": (json.dumps(mars).encode(), "Mars/Base"),
        "wrong-type.json": (b'{"users": {"email": 1}}', "users"),
        "big-id.json": (json.dumps(big).encode(), "business_centers.0.id"),
        "crlf-name.json": (json.dumps(crlf).encode(), "control characters"),
        "rounded-id.json": (
            json.dumps(rounded).encode(),
            "shops.0.linked_bc: Value error, is a number beyond 2^53",
        ),
    }
    for name, (content, _) in files.items():
        (tmp / name).write_bytes(content)
    return [(name, tmp / name, words) for name, (_, words) in files.items()] + [
        ("missing", tmp / "missing.json", "does not exist"),
        ("directory", tmp, "is a directory"),
    ]


@pytest.mark.parametrize(
    "case",
    [
        "binary.json",
        "invalid.json",
        "schema.json",
        "wrong-type.json",
        pytest.param("big-id.json", marks=needs_bounded_reference),
        pytest.param("crlf-name.json", marks=needs_bounded_reference),
        "rounded-id.json",
        "missing",
        "directory",
    ],
)
def test_load_refuses_a_bad_file_and_stores_nothing(
    store_file: Path, tmp_path: Path, case: str
) -> None:
    url = f"sqlite:///{store_file}"
    (path, words) = next((p, w) for name, p, w in _bad_files(tmp_path) if name == case)
    before, rows = fingerprint(store_file), row_counts(url)
    message = invoke(["load", str(path), "--json"], url).error("invalid_input")
    assert str(path) in message and words in message
    assert fingerprint(store_file) == before and row_counts(url) == rows


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_load_refuses_an_unreadable_file(store_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text(DEMO.read_text())
    path.chmod(0)
    message = invoke(["load", str(path), "--json"], f"sqlite:///{store_file}").error(
        "invalid_input"
    )
    assert "cannot be read" in message


# --- a store that cannot be used is store_unavailable, and stays as it was ---------------------

STORE_COMMANDS = [
    ["status", "R1"],
    ["requests", "--bc", str(AGENCY)],
    ["shops", "--bc", str(AGENCY)],
    ["campaigns", "--shop-code", S1_SHOP],
    ["load", str(DEMO)],
    ["migrate"],
]


def _broken_store(kind: str, good: Path, tmp: Path) -> tuple[str, Path | None]:
    """A DATABASE_URL of the given kind, and the file whose bytes must not change."""
    path = tmp / f"{kind}.db"
    if kind == "junk":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:8192])
    elif kind == "empty":
        path.touch()
    elif kind == "missing-file":
        return f"sqlite:///{path}", None
    elif kind == "under-a-file":  # the "directory" is a regular file: nothing can be created
        blocker = tmp / "blocker"
        blocker.write_text("not a directory")
        return f"sqlite:///{blocker / 'store.db'}", blocker
    elif kind == "postgres-down":
        return POSTGRES_DOWN, None
    return f"sqlite:///{path}", path


BROKEN = ["junk", "truncated", "empty", "missing-file", "under-a-file", "postgres-down"]


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("args", STORE_COMMANDS, ids=lambda a: a[0])
def test_unusable_store_is_store_unavailable_and_unchanged(
    store_file: Path, tmp_path: Path, args: list[str], kind: str
) -> None:
    if kind in ("missing-file", "empty") and args == ["migrate"]:
        pytest.skip("migrate creates a store where there is none: that is its job")
    url, keep = _broken_store(kind, store_file, tmp_path)
    before = fingerprint(keep) if keep else None
    files_before = sorted(tmp_path.iterdir())
    message = invoke([*args, "--json"], url).error("store_unavailable")
    assert "secret" not in message  # never the password
    if kind == "postgres-down":
        assert "127.0.0.1:1" in message and "server" in message
    elif kind != "under-a-file":
        assert str(tmp_path) in message
    if keep is not None:
        assert fingerprint(keep) == before
    assert sorted(tmp_path.iterdir()) == files_before  # no file created either


def test_locked_store_is_store_unavailable_after_the_busy_timeout(
    store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{store_file}"
    monkeypatch.setattr(store.db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    rows = row_counts(url)
    holder = sqlite3.connect(store_file, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than we wait
        message = invoke(["load", str(DEMO), "--json"], url).error("store_unavailable")
        assert "locked" in message
        assignment = [
            "assign-member", "--bc", str(AGENCY), "--shop-code", S1_SHOP, "--member", ANA,
            "--permission", "manager", "--as", ANA, "--json",
        ]  # fmt: skip
        assert "locked" in invoke(assignment, url).error("store_unavailable")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert row_counts(url) == rows


def test_migrate_refuses_a_truncated_store_and_keeps_a_new_one_new(
    store_file: Path, tmp_path: Path
) -> None:
    """The reported case: a store truncated to 8 kB let migrate exit 0."""
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(store_file.read_bytes()[:8192])
    message = invoke(["migrate", "--json"], f"sqlite:///{truncated}").error("store_unavailable")
    assert "not a healthy SQLite database" in message and "nothing was changed" in message
    assert truncated.read_bytes() == store_file.read_bytes()[:8192]

    empty = tmp_path / "empty.db"  # an empty file is a new database, not a broken one
    empty.touch()
    done = invoke(["migrate", "--json"], f"sqlite:///{empty}")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["revision"]


# --- faults outside the store ---------------------------------------------------------------


def test_temporal_unreachable_is_service_unavailable(store_file: Path) -> None:
    before = fingerprint(store_file)
    outcome = invoke(
        ["request-access", "--bc", str(AGENCY), *REQUEST, "--json"], f"sqlite:///{store_file}"
    )
    assert "Temporal" in outcome.error("service_unavailable")
    assert fingerprint(store_file) == before


def test_unexpected_error_is_internal_error_with_a_traceback_only_on_request(
    store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("client.reads.queries.request_view", broken)
    url = f"sqlite:///{store_file}"
    message = invoke(["status", "R1", "--json"], url).error("internal_error")
    assert "ZeroDivisionError: a bug" in message
    human = invoke(["status", "R1"], url)
    assert human.exit_code == 1 and len(human.stderr.strip().splitlines()) == 1
    debug = invoke(["status", "R1"], url, SHOP_ACCESS_DEBUG="1")
    assert "Traceback" in debug.stderr and "ZeroDivisionError" in debug.stderr


def test_ctrl_c_is_interrupted_with_status_130(
    store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("client.reads.queries.request_view", interrupted)
    outcome = invoke(["status", "R1", "--json"], f"sqlite:///{store_file}")
    assert outcome.error("interrupted", 130) == "Interrupted."


def test_a_temporal_error_mid_command_is_service_unavailable() -> None:
    from temporalio.service import RPCError, RPCStatusCode

    from cli.failures import failure_of

    failure = failure_of(RPCError("namespace not found", RPCStatusCode.NOT_FOUND, b""))
    assert (failure.code, failure.exit_code) == ("service_unavailable", 1)
    assert "NOT_FOUND: namespace not found" in failure.message


def test_bad_configuration_is_invalid_input(store_file: Path) -> None:
    message = invoke(
        ["shops", "--bc", str(AGENCY), "--json"], f"sqlite:///{store_file}", DEV_MODE="0"
    ).error("invalid_input")
    assert "SECRET_KEY" in message and "\n" not in message


# --- as a process: sys.argv, and the exit status through starter.main's os._exit -----------------


def run_starter(*args: str, url: str) -> Outcome:
    env = {**os.environ, "DATABASE_URL": url, "DEV_MODE": "1", "TEMPORAL_ADDRESS": CLOSED_TEMPORAL}
    proc = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def test_as_a_process_the_contract_and_exit_status_hold(store_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{store_file}"
    assert "'--bc'" in run_starter("shops", "--bc", "abc", "--json", url=url).error("invalid_input")
    assert "--nope" in run_starter("shops", "--nope", "--json", url=url).error("usage_error", 2)
    junk = tmp_path / "junk.db"
    junk.write_bytes(bytes(range(256)) * 64)
    before = junk.read_bytes()
    run_starter("migrate", "--json", url=f"sqlite:///{junk}").error("store_unavailable")
    assert junk.read_bytes() == before
    human = run_starter("load", str(tmp_path / "none.json"), url=url)
    assert human.exit_code == 1 and human.stdout == "" and "Traceback" not in human.stderr
    assert human.stderr.strip().splitlines() == [
        f"Refused (invalid_input): {tmp_path / 'none.json'} does not exist."
    ]
