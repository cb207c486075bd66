"""R30's proof from JavaScript: a Node.js script (tests/api/node_client.mjs, plain fetch and
JSON.parse) creates a request through the API of a loopback server and reads it back with
the 19-digit BC id intact. Skips when node is missing, unless REQUIRE_NODE=1 (CI)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.api.conftest import BASE, Token
from tests.conftest import AGENCY, ANA, S1_SHOP
from tests.web.conftest import LiveServer

SCRIPT = Path(__file__).with_name("node_client.mjs")
REQUIRE_NODE = os.environ.get("REQUIRE_NODE") == "1"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        if REQUIRE_NODE:
            pytest.fail("node is not installed and REQUIRE_NODE=1")
        pytest.skip("node is not installed (Node.js 18+ runs tests/api/node_client.mjs)")
    return found


@pytest.mark.asyncio(loop_scope="session")
async def test_r30_a_node_client_reads_the_bc_id_it_sent(
    live_server: LiveServer, act_token: Token
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "API_URL": live_server.url + BASE,
        "API_TOKEN": act_token.secret,
        "BC_ID": str(AGENCY),
        "SHOP_CODE": S1_SHOP,
        "AS": ANA,
    }
    # Run beside the worker (it shares this event loop): the request's workflow must run.
    process = await asyncio.create_subprocess_exec(
        node(),
        str(SCRIPT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (out + err).decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["read_bc_id"] == result["listed_bc_id"] == result["quota_bc_id"] == str(AGENCY)
    assert result["intact"] is True
    # What the old shape (a JSON number) gave the same script: another Business Center.
    assert result["number_would_read"] == "7100000000000000000"
