"""Audit exports verifiable offline (R32) with ids as strings (R30), on SQLite and
PostgreSQL.

An export's trailer is signed with the store's Ed25519 key, so with the public key alone:
a complete file verifies; a file cut short whose trailer was recomputed fails, as does an
altered signature or a line rewritten with a fresh hash; a rotated-out key still checks
the files it signed. openssl alone gets the same answers (docs/audit.md's recipe).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from client.audit import export_text, public_key, public_keys, rotate_key, verify_export
from models.errors import ErrorCode, Refusal
from models.tables import AuditSigningKey
from store.audit_export import MAX_SAFE_INTEGER, Scope, signed_text
from store.db import read_session, write_session
from tests.conftest import AGENCY, S1_SHOP, load_demo
from tests.test_audit_export import request_and_approve

SHOP = Scope(shop_code=S1_SHOP)


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    load_demo(store_engine)
    request_and_approve(store_engine)
    return store_engine


def exported(engine: Engine, scope: Scope = SHOP) -> list[str]:
    return "".join(export_text(engine, scope).body).splitlines()


def pem(engine: Engine, key_id: str | None = None) -> bytes:
    return public_key(engine, key_id).public_key.encode()


def offline(lines: list[str], key: bytes) -> str | None:
    """Verify with no store, as `audit verify FILE --public-key PEM` does."""
    return verify_export(("\n".join(lines) + "\n").encode(), None, key).signed_by


def refused(check: object, *args: object) -> Refusal:
    with pytest.raises(Refusal) as err:
        check(*args)  # type: ignore[operator]
    return err.value


def store_rows(engine: Engine) -> list[list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return [
            [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in ("audit_event", "audit_chain_head", "audit_signing_key")
        ]


def resigned_trailer(lines: list[str]) -> list[str]:
    """What a forger can do without the private key: recompute the trailer's count,
    last hash and digest over the lines left, keeping the old signature."""
    body = lines[:-1]
    trailer = json.loads(lines[-1])
    changes = [json.loads(x) for x in body[1:]]
    trailer["lines"] = len(changes)
    trailer["head"] = changes[-1]["hash"] if changes else json.loads(body[0])["prev_line"]
    trailer["digest"] = hashlib.sha256("".join(x + "\n" for x in body).encode()).hexdigest()
    return [*body, json.dumps(trailer, sort_keys=True)]


def test_r32_a_whole_export_verifies_offline_and_names_its_key(store: Engine) -> None:
    lines = exported(store)
    trailer = json.loads(lines[-1])
    key = public_key(store)
    assert trailer["key_id"] == key.key_id and key.current
    assert {"scope", "lines", "head", "digest", "exported_at", "signature"} <= trailer.keys()
    assert trailer["scope"] == {"shop_code": S1_SHOP}
    assert offline(lines, pem(store)) == key.key_id
    # Against the store, the store's own key is checked too.
    whole = "".join(export_text(store, SHOP).body).encode()
    assert verify_export(whole, store).signed_by == key.key_id


def test_r32_a_file_cut_short_with_a_recomputed_trailer_fails_offline(store: Engine) -> None:
    lines = exported(store)
    cut = resigned_trailer(lines[:-2] + lines[-1:])  # the last change dropped
    err = refused(offline, cut, pem(store))
    assert (err.code, err.details["line"]) == (ErrorCode.AUDIT_SIGNATURE_INVALID, len(cut))
    assert f"line {len(cut)}" in err.message.lower()
    # The store says the same: the file's lines are all the store's, only its end lies.
    before = store_rows(store)
    err = refused(verify_export, ("\n".join(cut) + "\n").encode(), store)
    assert err.code == ErrorCode.AUDIT_SIGNATURE_INVALID
    assert store_rows(store) == before  # checking changes nothing
    # Left as it was, the trailer still counts the line that is gone.
    err = refused(offline, lines[:-2] + lines[-1:], pem(store))
    assert err.code == ErrorCode.AUDIT_LINES_MISSING


def test_r32_an_altered_signature_fails(store: Engine) -> None:
    lines = exported(store)
    trailer = json.loads(lines[-1])
    signature = bytearray(base64.b64decode(trailer["signature"]))
    signature[0] ^= 1
    forged = [*lines[:-1], json.dumps(trailer | {"signature": base64.b64encode(signature).decode()},
                                      sort_keys=True)]  # fmt: skip
    err = refused(offline, forged, pem(store))
    assert (err.code, err.details["line"]) == (ErrorCode.AUDIT_SIGNATURE_INVALID, len(lines))
    junk = [*lines[:-1], json.dumps(trailer | {"signature": "not base64!"}, sort_keys=True)]
    assert refused(offline, junk, pem(store)).code == ErrorCode.AUDIT_SIGNATURE_INVALID
    later = [*lines[:-1], json.dumps(trailer | {"exported_at": "2099-01-01"}, sort_keys=True)]
    assert refused(offline, later, pem(store)).code == ErrorCode.AUDIT_SIGNATURE_INVALID


def test_r32_a_line_rewritten_with_a_fresh_hash_fails_offline(store: Engine) -> None:
    """The file's own links are not hashed: only the signed digest catches a middle line
    rewritten with a fresh hash and the next line's link mended."""
    from store.audit import row_hash

    lines = exported(store)
    line = json.loads(lines[2]) | {"actor": "mallory@example.com"}
    fields = {k: line[k] for k in ("seq", "at", "actor", "entity", "entity_id", "action")}
    line["hash"] = row_hash(**fields, detail=line["detail_json"], prev_hash=line["prev_hash"])
    after = json.loads(lines[3]) | {"prev_line": line["hash"]}
    bad = [*lines[:2], json.dumps(line, sort_keys=True), json.dumps(after, sort_keys=True),
           *lines[4:]]  # fmt: skip
    err = refused(offline, bad, pem(store))
    assert (err.code, err.details) == (
        ErrorCode.AUDIT_SIGNATURE_INVALID,
        {"line": len(bad), "reason": "digest"},
    )
    assert "rewritten" in err.message


def test_r32_rotation_keeps_old_exports_verifiable(store: Engine) -> None:
    old_lines = exported(store)
    old = public_key(store)
    made = rotate_key(store)
    assert made.retired == old.key_id and made.key_id != old.key_id
    new_lines = exported(store)
    assert json.loads(new_lines[-1])["key_id"] == made.key_id
    # The old key is listed, by id, public half only; it signs nothing more.
    listed = public_keys(store).keys
    assert [(k.key_id, k.current) for k in listed] == [(made.key_id, True), (old.key_id, False)]
    assert listed[1].retired_at is not None
    with read_session(store) as session:
        rows = {r.key_id: r for r in session.exec(select(AuditSigningKey)).all()}
    assert rows[old.key_id].private_pem is None and rows[made.key_id].private_pem
    # Old files verify with the old key (by its id) and against the store.
    assert offline(old_lines, pem(store, old.key_id)) == old.key_id
    assert verify_export(("\n".join(old_lines) + "\n").encode(), store).signed_by == old.key_id
    assert offline(new_lines, pem(store)) == made.key_id
    # The wrong key says which key the file needs.
    err = refused(offline, old_lines, pem(store))
    assert err.code == ErrorCode.AUDIT_SIGNATURE_INVALID
    assert err.details["reason"] == "unknown_key" and old.key_id in err.message
    assert refused(public_key, store, "0123456789abcdef").code == ErrorCode.UNKNOWN_AUDIT_KEY


def test_r32_the_first_key_is_made_once_by_racing_exports(store_engine: Engine) -> None:
    load_demo(store_engine)
    ids: list[str] = []
    errors: list[BaseException] = []

    def first_export() -> None:
        try:
            ids.append(json.loads(exported(store_engine)[-1])["key_id"])
        except BaseException as err:  # reported below: a thread's failure fails the test
            errors.append(err)

    threads = [threading.Thread(target=first_export) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    assert [k.key_id for k in public_keys(store_engine).keys] == ids[:1]


def test_r32_the_private_key_never_leaves_the_store(store: Engine) -> None:
    rotate_key(store)
    with read_session(store) as session:
        row = session.exec(select(AuditSigningKey)).first()
    assert row is not None and "PRIVATE" not in repr(row)
    said = ["".join(export_text(store, SHOP).body),
            *(k.model_dump_json() for k in public_keys(store).keys)]  # fmt: skip
    assert all("PRIVATE" not in s for s in said)


def test_r32_a_failed_key_write_does_not_show_the_private_key(store: Engine) -> None:
    """A write that fails (here: a second key under a taken generation) raises an error
    whose text, as logs and error answers would show it, holds no private key."""
    from sqlalchemy.exc import IntegrityError

    from store import audit_keys

    public_key(store)  # generation 1 exists
    row = audit_keys._new_row(1)
    with (
        pytest.raises(IntegrityError) as err,
        audit_keys._params_hidden(),
        write_session(store) as session,
    ):
        session.add(row)
    assert row.private_pem and row.private_pem not in str(err.value)
    assert "PRIVATE" not in str(err.value)


def test_r30_export_lines_carry_big_ids_as_strings(store: Engine) -> None:
    lines = exported(store, Scope(bc_id=AGENCY))
    assert json.loads(lines[0])["scope"] == {"bc_id": str(AGENCY)}
    changes = [json.loads(x) for x in lines[1:-1]]
    big = [c for c in changes if str(AGENCY) in c["detail_json"]]
    assert big, "a change naming the agency by id"
    for change in big:
        assert f'"{AGENCY}"' in json.dumps(change["detail"])  # as a string...
        assert all(abs(n) <= MAX_SAFE_INTEGER for n in numbers(change["detail"]))
    # ...and a reader's copy that says something else than the hashed text is caught.
    edited = json.loads(lines[1])
    edited["detail"] = {**edited["detail"], "added": "x"}
    bad = [lines[0], json.dumps(edited, sort_keys=True), *lines[2:]]
    err = refused(verify_export, ("\n".join(bad) + "\n").encode(), store)
    assert (err.code, err.details["line"]) == (ErrorCode.AUDIT_LINE_ALTERED, 2)


def numbers(value: object) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return []


def format_1(lines: list[str]) -> list[str]:
    """The file as exports were written before signing: numbers as stored, the detail
    object hashed as dumped, an unsigned trailer."""
    header = json.loads(lines[0]) | {"audit_export": 1}
    out = [json.dumps(header, sort_keys=True)]
    for x in lines[1:-1]:
        line = json.loads(x)
        line["detail"] = json.loads(line.pop("detail_json"))
        out.append(json.dumps(line, sort_keys=True))
    trailer = json.loads(lines[-1])
    out.append(json.dumps({"end": True, "lines": trailer["lines"], "head": trailer["head"]}))
    return out


def test_r32_format_1_exports_still_verify_against_the_store(store: Engine) -> None:
    old = format_1(exported(store))
    checked = verify_export(("\n".join(old) + "\n").encode(), store)
    assert (checked.signed_by, checked.lines) == (None, len(old) - 2)
    # Offline, only a signature tells a whole file from a cut one: a format 1 file has none.
    err = refused(offline, old, pem(store))
    assert (err.code, err.details["reason"]) == (ErrorCode.AUDIT_SIGNATURE_INVALID, "unsigned")
    assert f"line {len(old)}" in err.message.lower() and "format 1" in err.message


def test_r32_a_bad_public_key_is_refused(store: Engine) -> None:
    lines = exported(store)
    for junk in (b"", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        err = refused(offline, lines, junk)
        assert (err.code, err.details.get("field")) == (ErrorCode.INVALID_INPUT, "public_key")


# --- openssl alone (docs/audit.md) -------------------------------------------------------------


DOCS = Path(__file__).resolve().parent.parent / "docs" / "audit.md"


def _docs_recipe() -> str:
    """docs/audit.md's openssl-only check, as written there."""
    section = DOCS.read_text(encoding="utf-8").split("## Checking a file offline", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def _openssl_verifies(workdir: Path, export_file: Path, public_pem: Path) -> bool:
    """Run the docs' recipe on a file: the signature holds and the two digests it prints
    are equal."""
    script = _docs_recipe().replace("F=gblinked01.jsonl", 'F="$1"')
    script = "set -e\n" + script.replace("audit-key.pem", '"$2"')
    done = subprocess.run(
        ["sh", "-c", script, "sh", str(export_file), str(public_pem)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = done.stdout.split()
    return (
        done.returncode == 0
        and out[:3] == ["Signature", "Verified", "Successfully"]
        and len(out) == 5
        and out[3] == out[4]
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_r32_openssl_alone_verifies_an_export_and_refuses_a_cut_one(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_demo(sqlite_engine)
    request_and_approve(sqlite_engine)
    lines = exported(sqlite_engine)
    key = tmp_path / "audit-key.pem"
    key.write_bytes(pem(sqlite_engine))
    whole = tmp_path / "whole.jsonl"
    whole.write_text("\n".join(lines) + "\n")
    assert _openssl_verifies(tmp_path, whole, key)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(resigned_trailer(lines[:-2] + lines[-1:])) + "\n")
    assert not _openssl_verifies(tmp_path, cut, key)
    edited = tmp_path / "edited.jsonl"
    edited.write_text(
        "\n".join([lines[0], lines[1].replace('"actor": "', '"actor": "x'), *lines[2:]]) + "\n"
    )
    assert not _openssl_verifies(tmp_path, edited, key)  # the digest no longer matches
    # The signed text is exactly what the recipe cuts out of the trailer line.
    assert (tmp_path / "trailer.signed").exists()
    assert (
        signed_text(json.loads(lines[-1]))
        == lines[-1].rsplit(', "signature"', 1)[0].encode() + b"}"
    )


def test_r32_altering_a_key_row_in_the_store_fails_store_verification(store: Engine) -> None:
    """A key swapped in the store (its public half replaced) no longer checks old files."""
    lines = exported(store)
    other = rotate_key(store)
    with store.begin() as conn:
        conn.execute(
            text("UPDATE audit_signing_key SET public_pem = :pem WHERE key_id = :old"),
            {"pem": other.public_key, "old": json.loads(lines[-1])["key_id"]},
        )
    err = refused(verify_export, ("\n".join(lines) + "\n").encode(), store)
    assert err.code == ErrorCode.AUDIT_SIGNATURE_INVALID


# --- the CLI -------------------------------------------------------------------------------------


async def test_r32_cli_gives_the_key_and_verifies_offline_with_no_store(
    demo: Engine, tmp_path: Path
) -> None:
    from tests.test_cli import refused as cli_refused
    from tests.test_cli import run

    request_and_approve(demo)
    env = {"DATABASE_URL": demo.url.render_as_string(hide_password=False), "DEV_MODE": "1"}
    out, key = tmp_path / "s1.jsonl", tmp_path / "audit.pem"
    made = await run("starter.py", "audit", "export", "--shop-code", S1_SHOP, "-o", str(out),
                     "--json", env=env)  # fmt: skip
    assert made.code == 0, made.err
    shown = await run("starter.py", "audit", "public-key", "-o", str(key), "--json", env=env)
    assert shown.code == 0, shown.err
    assert key.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert shown.json["key_id"] == json.loads(out.read_text().splitlines()[-1])["key_id"]

    # No store at all: the file and the key are enough.
    nowhere = {"DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}", "DEV_MODE": "1"}
    ok = await run("starter.py", "audit", "verify", str(out), "--public-key", str(key),
                   "--json", env=nowhere)  # fmt: skip
    assert ok.code == 0, ok.err
    assert (ok.json["signed_by"], ok.json["against_store"]) == (shown.json["key_id"], False)
    human = await run("starter.py", "audit", "verify", str(out), "--public-key", str(key),
                      env=nowhere)  # fmt: skip
    assert f"signed by key {shown.json['key_id']}" in human.out

    cut = tmp_path / "cut.jsonl"
    lines = out.read_text().splitlines()
    cut.write_text("\n".join(resigned_trailer(lines[:-2] + lines[-1:])) + "\n")
    bad = await run("starter.py", "audit", "verify", str(cut), "--public-key", str(key),
                    "--json", env=nowhere)  # fmt: skip
    cli_refused(bad, ErrorCode.AUDIT_SIGNATURE_INVALID)
    assert bad.json["error"]["details"]["line"] == len(lines) - 1
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.slow
async def test_r32_cli_rotates_and_refuses_bad_keys(demo: Engine, tmp_path: Path) -> None:
    from tests.test_cli import refused as cli_refused
    from tests.test_cli import run

    env = {"DATABASE_URL": demo.url.render_as_string(hide_password=False), "DEV_MODE": "1"}
    first = await run("starter.py", "audit", "public-key", "--json", env=env)
    rotated = await run("starter.py", "audit", "rotate-key", "--json", env=env)
    assert rotated.code == 0, rotated.err
    assert rotated.json["retired"] == first.json["key_id"]
    assert "PRIVATE" not in rotated.out
    listed = await run("starter.py", "audit", "public-key", "--all", "--json", env=env)
    assert [k["key_id"] for k in listed.json["keys"]] == [
        rotated.json["key_id"],
        first.json["key_id"],
    ]
    old = await run("starter.py", "audit", "public-key", "--key-id", first.json["key_id"],
                    "--json", env=env)  # fmt: skip
    assert old.json["public_key"] == first.json["public_key"] and old.json["current"] is False

    def keys_now() -> list[tuple[object, ...]]:
        with demo.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT * FROM audit_signing_key"))]

    before = keys_now()
    unknown = await run("starter.py", "audit", "public-key", "--key-id", "0123456789abcdef",
                        "--json", env=env)  # fmt: skip
    assert "0123456789abcdef" in cli_refused(unknown, ErrorCode.UNKNOWN_AUDIT_KEY)
    both = await run("starter.py", "audit", "public-key", "--all", "--key-id", "x", "--json",
                     env=env)  # fmt: skip
    cli_refused(both, ErrorCode.INVALID_INPUT)
    export = tmp_path / "e.jsonl"
    export.write_text("".join(export_text(demo, SHOP).body))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    bad = await run("starter.py", "audit", "verify", str(export), "--public-key", str(junk),
                    "--json", env=env)  # fmt: skip
    assert str(junk) in cli_refused(bad, ErrorCode.INVALID_INPUT)
    assert keys_now() == before
