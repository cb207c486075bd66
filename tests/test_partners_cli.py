"""The partner-side CLI, run as an ops person would: every command with
--json prints one object and exits 0, and a refusal exits 1 with {"error": {code, message}}.
The story: invite, accept, assign, share, campaigns, preview, remove."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from client.partners import PartnerService
from models.settings import Settings
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SAM, SUBAGENCY
from tests.partners_support import (
    AGENCY_ADS,
    NEW_MEMBER,
    SUB_ADS,
    grant_in_store,
    snapshot,
)

ROOT = Path(__file__).resolve().parent.parent


async def _cli(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run one command in-process (in a thread: the CLI runs its own event loop) with the
    environment an ops person would set; returns the exit code and the JSON printed."""
    from click.testing import CliRunner

    from starter import cli

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, [*args, "--json"], env=env, catch_exceptions=False
    )
    assert result.output.strip(), result.output
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


async def _subprocess_cli(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        "--json",
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert out.strip(), err.decode()[-2000:]
    return proc.returncode or 0, json.loads(out.decode().strip().splitlines()[-1])


async def test_partner_cli_story_and_refusals(
    temporal_env: WorkflowEnvironment, demo, settings: Settings, worker
) -> None:
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    env = {
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
    }

    # Refusals first: each exits 1 with its code, and nothing changes.
    before = snapshot(demo)
    refusals = [
        await _cli(
            env,
            "assign-member",
            "--bc",
            str(AGENCY),
            "--shop-code",
            S1_SHOP,
            "--member",
            NEW_MEMBER,
            "--permission",
            "ad_promotion",
            "--as",
            ANA,
        ),
        await _cli(
            env,
            "share-shop",
            "--bc",
            str(AGENCY),
            "--shop-code",
            S1_SHOP,
            "--partner-bc",
            str(SUBAGENCY),
            "--permission",
            "manager",
            "--as",
            ANA,
        ),
        await _cli(
            env,
            "remove-access",
            "--shop-code",
            S1_SHOP,
            "--partner-bc",
            str(AGENCY),
            "--as",
            SAM,
            "--preview",
        ),
    ]
    assert [(c, o["error"]["code"]) for c, o in refusals] == [
        (1, "not_a_member"),
        (1, "permission_denied"),
        (1, "permission_denied"),
    ]
    assert "invite them first" in refusals[0][1]["error"]["message"]
    assert snapshot(demo) == before

    code, out = await _cli(
        env,
        "invite-member",
        "--bc",
        str(AGENCY),
        "--email",
        NEW_MEMBER,
        "--role",
        "standard",
        "--ad-account",
        f"{AGENCY_ADS}:operator",
        "--as",
        ANA,
    )
    assert code == 0, out
    [invitation] = out["invitations"]
    code, out = await _cli(
        env, "accept-invitation", invitation["invitation_id"], "--as", NEW_MEMBER
    )
    assert (code, out["status"]) == (0, "accepted")
    code, out = await _cli(
        env,
        "assign-member",
        "--bc",
        str(AGENCY),
        "--shop-code",
        S1_SHOP,
        "--member",
        NEW_MEMBER,
        "--permission",
        "ad_promotion",
        "--as",
        ANA,
    )
    assert (code, out["permission"]) == (0, "ad_promotion")

    code, out = await _cli(
        env,
        "share-shop",
        "--bc",
        str(AGENCY),
        "--shop-code",
        S1_SHOP,
        "--partner-bc",
        str(SUBAGENCY),
        "--permission",
        "ad_promotion",
        "--as",
        ANA,
    )
    assert (code, out["status"]) == (0, "invited")
    code, out = await _cli(env, "accept-invitation", out["invitation_id"], "--as", LEE)
    assert code == 0 and len(out["granted_shop_ids"]) == 1

    code, out = await _cli(
        env,
        "create-campaign",
        "--ad-account",
        str(AGENCY_ADS),
        "--shop-code",
        S1_SHOP,
        "--name",
        "Member sale",
        "--as",
        NEW_MEMBER,
    )
    assert (code, out["status"]) == (0, "delivering")
    PartnerService(None, demo, settings.task_queue).create_campaign(
        ad_account_id=SUB_ADS, shop_code=S1_SHOP, name="Sub sale", by=LEE
    )

    code, out = await _cli(
        env,
        "remove-access",
        "--shop-code",
        S1_SHOP,
        "--partner-bc",
        str(AGENCY),
        "--as",
        OLI,
        "--preview",
    )
    assert code == 0 and out["total_delivering_campaigns"] == 2
    assert [d["bc_id"] for d in out["downstream"]] == [str(SUBAGENCY)]
    code, out = await _cli(
        env,
        "remove-access",
        "--shop-code",
        S1_SHOP,
        "--partner-bc",
        str(AGENCY),
        "--as",
        OLI,
        "--wait",
    )
    assert (code, out["status"], out["campaigns_stopped"]) == (0, "completed", 2)
    code, out = await _cli(env, "campaigns", "--shop-code", S1_SHOP)
    assert [(c["name"], c["status"]) for c in out["campaigns"]] == [
        ("Member sale", "stopped"),
        ("Sub sale", "stopped"),
    ]
    # The real entry point, once, as a script would run it.
    code, out = await _subprocess_cli(env, "shops", "--bc", str(SUBAGENCY))
    assert out["shops"] == []
    code, out = await _cli(
        env, "remove-access", "--shop-code", S1_SHOP, "--partner-bc", str(AGENCY), "--as", OLI
    )
    assert code == 1 and out["error"]["code"] == "not_a_partner"
