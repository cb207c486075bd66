"""The README's first command: the whole stack comes up on embedded defaults, shows the
demo requests in the Temporal UI's filtered list, the store and the outbox, and stops
cleanly on Ctrl-C (R21: the three tell the same story)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import WAIT_SECONDS, wait_until_sync

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_quickstart_runs_the_stack_with_demo_data_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {"temporal": free_port(), "ui": free_port(), "web": free_port(), "metrics": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    log = (tmp_path / "stack.log").open("w+")
    stack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.stack",
            "--temporal-port",
            str(ports["temporal"]),
            "--ui-port",
            str(ports["ui"]),
            "--web-port",
            str(ports["web"]),
            "--metrics-port",
            str(ports["metrics"]),
            "--data-dir",
            str(tmp_path / "var"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def up() -> bool:
            assert stack.poll() is None, (tmp_path / "stack.log").read_text()
            return "Press Ctrl-C" in (tmp_path / "stack.log").read_text()

        # Three processes start and the demo is seeded: a loaded machine takes minutes.
        wait_until_sync(up, timeout=3 * WAIT_SECONDS, interval=0.5, what="the stack up")
        output = (tmp_path / "stack.log").read_text()
        assert f"http://127.0.0.1:{ports['ui']}" in output

        # The Temporal UI answers.
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['ui']}/", timeout=30) as page:
            assert page.status == 200

        # The demo requests are pending in the store (R8) ...
        cli_env = {
            **env,
            "DEV_MODE": "1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'shop_access.db'}",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        }
        listed = subprocess.run(
            [sys.executable, "starter.py", "requests", "--bc", "7100000000000000001", "--json"],
            cwd=ROOT, env=cli_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows = json.loads(listed.stdout)["requests"]
        assert len(rows) == 5 and {r["status"] for r in rows} == {"pending"}

        # ... in Temporal's filtered list, as the UI shows it ...
        def count_pending() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    str(Path(sys.executable).parent / "temporal"), "workflow", "count",
                    "--address", f"127.0.0.1:{ports['temporal']}",
                    "--query", "RequestStatus = 'pending' AND "
                    "BusinessCenterId = '7100000000000000001'",
                ],
                capture_output=True, text=True,
            )  # fmt: skip

        # Visibility is eventually consistent.
        wait_until_sync(
            lambda: "Total: 5" in count_pending().stdout, interval=0.5,
            what="Temporal listing the 5 pending requests",
        )  # fmt: skip

        # ... and each shop's team got its e-mail (one per team member).
        # The team e-mails go out after each admission answered: wait for them.
        outbox = tmp_path / "var" / "outbox"
        wait_until_sync(lambda: len(list(outbox.glob("*.eml"))) >= 5, what="5 e-mails")
        assert len(list(outbox.glob("*.eml"))) == 5

        # Issue 10: the quick start says where the metrics are, and they count the demo.
        worker_metrics = f"http://127.0.0.1:{ports['metrics']}/metrics"
        assert worker_metrics in output
        with urllib.request.urlopen(worker_metrics, timeout=10) as page:
            figures = page.read().decode()
        assert 'shop_access_requests_admitted_total{method="request_access"} 4.0' in figures
        assert 'shop_access_requests_admitted_total{method="add_my_shop"} 1.0' in figures
        assert 'shop_access_pending_requests{method="request_access"} 4.0' in figures
        assert "temporal_" in figures  # the SDK's own, on the same page
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['web']}/metrics") as page:
            assert "shop_access_http_requests_total" in page.read().decode()
    finally:
        try:
            children = psutil.Process(stack.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        stack.send_signal(signal.SIGINT)
        code = stack.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "stack.log").read_text()
    assert "Stopped." in (tmp_path / "stack.log").read_text()
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
