"""The README's first command, as a newcomer runs it.

- ``scripts/quickstart --help`` answers at once, with the defaults, before installing.
- The whole stack comes up on embedded defaults, prints which demo shop is which scenario
  (S1-S4, and the "Add my shop" racing S3: R11) and who approves it, shows the demo
  requests in the Temporal UI's filtered list, the store and the outbox (R21: the three
  tell the same story), and the printed one-liner finds a seller's approval link.
- It stops cleanly on Ctrl-C; run again on the same data dir it is clean (no traceback),
  keeps what is there and starts no request for a shop held or still pending (R6);
  ``--reset`` starts from nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import WAIT_SECONDS, wait_until_sync

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [
    ("S1", "GBLINKED01", "request_access", "oli@brand-linked.com"),
    ("S2", "SGNEWBC002", "request_access", "nia@brand-new.com"),
    ("S3", "USADMIN003", "request_access", "raj@brand-admin.com"),
    ("R11", "USADMIN003", "add_my_shop", "raj@brand-admin.com"),
    ("S4", "THMEMBER04", "request_access", "kim@brand-member.com"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_answers_before_installing_and_gives_the_defaults(tmp_path: Path) -> None:
    # A fresh clone: the script and the module it asks, no .venv.
    for part in ("scripts/quickstart", "scripts/bootstrap.sh", "devtools/__init__.py",
                 "devtools/quickstart.py"):  # fmt: skip
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, tmp_path / part)
    env = {**os.environ, "PYTHON": sys.executable}
    shown = subprocess.run(
        [str(tmp_path / "scripts" / "quickstart"), "--help"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    for default in ("default: 7233", "default: 8233", "default: 8000", "default: var"):
        assert default in shown.stdout
    assert "--reset" in shown.stdout
    bad = subprocess.run(
        [str(tmp_path / "scripts" / "quickstart"), "--web-port", "http"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "'http' is not a port number" in bad.stderr
    assert not (tmp_path / ".venv").exists() and not (tmp_path / "var").exists()


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child before exec: SIGINT back to its default. A suite started in the
    background (``pytest &`` in a script) inherits SIGINT ignored, Python then installs no
    KeyboardInterrupt handler, and the stack would never hear this test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Stack:
    """One run of ``python -m devtools.quickstart`` on free ports and a given data dir."""

    def __init__(self, tmp_path: Path, data: Path, name: str) -> None:
        self.ports = {
            "temporal": free_port(), "ui": free_port(), "web": free_port(), "metrics": free_port()
        }  # fmt: skip
        self.data = data
        self.log_path = tmp_path / f"{name}.log"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))
        }
        self.cli_env = {
            **self.env,
            "DEV_MODE": "1",
            "DATABASE_URL": f"sqlite:///{data / 'shop_access.db'}",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports['temporal']}",
            "MAIL_OUTBOX_DIR": str(data / "outbox"),
        }

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    @contextmanager
    def running(self, *extra: str) -> Iterator[Stack]:
        log = self.log_path.open("w+")
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "devtools.quickstart",
                "--temporal-port", str(self.ports["temporal"]),
                "--ui-port", str(self.ports["ui"]),
                "--web-port", str(self.ports["web"]),
                "--metrics-port", str(self.ports["metrics"]),
                "--data-dir", str(self.data),
                *extra,
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )  # fmt: skip
        try:

            def up() -> bool:
                assert proc.poll() is None, self.output
                return "Press Ctrl-C" in self.output

            # Three processes start and the demo is seeded: a loaded machine takes minutes.
            wait_until_sync(up, timeout=3 * WAIT_SECONDS, interval=0.5, what="the stack up")
            yield self
        finally:
            try:
                children = psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
            log.close()
        assert code == 0, self.output
        assert "Stopped." in self.output
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {[p.cmdline() for p in alive]}"

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "starter.py", *args, "--json"],
            cwd=ROOT, env=self.cli_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(done.stdout)

    def requests(self) -> dict[tuple[str, str], list[str]]:
        """(shop code, method) -> statuses, from the agency's shop list (R8)."""
        out: dict[tuple[str, str], list[str]] = {}
        for row in self.cli("requests", "--bc", "7100000000000000001")["requests"]:
            out.setdefault((row["shop_code"], row["method"]), []).append(row["status"])
        return out

    def pending_in_temporal(self, expected: int) -> str:
        """The Temporal UI's filtered list, counted by the CLI the UI's server answers.
        Visibility is eventually consistent: wait until it says ``expected``."""

        def count() -> str:
            found = subprocess.run(
                [
                    str(Path(sys.executable).parent / "temporal"), "workflow", "count",
                    "--address", f"127.0.0.1:{self.ports['temporal']}",
                    "--query", "RequestStatus = 'pending' AND "
                    "BusinessCenterId = '7100000000000000001'",
                ],
                capture_output=True, text=True,
            )  # fmt: skip
            return found.stdout + found.stderr

        wait_until_sync(
            lambda: f"Total: {expected}" in count(), interval=0.5,
            what=f"Temporal listing {expected} pending requests",
        )  # fmt: skip
        return count()


def scenario_lines(output: str) -> dict[tuple[str, str, str], str]:
    """The quick start's scenario map: (scenario, shop code, method) -> its line(s)."""
    found = {}
    for scenario, code, method, _approver in SCENARIOS:
        match = re.search(
            rf"^  {scenario} +{code}  {method} +(.*(?:\n {{8}}.*)?)", output, re.MULTILINE
        )
        assert match, f"no line for {scenario} {code} {method} in:\n{output}"
        found[(scenario, code, method)] = match.group(1)
    return found


@pytest.mark.slow
def test_quickstart_runs_the_demo_reruns_clean_and_resets(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = Stack(tmp_path, data, "first")
    with first.running():
        output = first.output
        assert f"http://127.0.0.1:{first.ports['ui']}" in output
        assert f"MAIL_OUTBOX_DIR={data / 'outbox'}" in output
        # Each demo shop named with its scenario and the seller who approves it.
        lines = scenario_lines(output)
        for scenario, code, method, approver in SCENARIOS:
            line = lines[(scenario, code, method)]
            assert line.startswith("started req_") and f"approve as {approver}" in line

        # The Temporal UI answers.
        with urllib.request.urlopen(f"http://127.0.0.1:{first.ports['ui']}/", timeout=10) as page:
            assert page.status == 200

        # The demo requests are pending in the store (R8) ...
        assert first.requests() == {(c, m): ["pending"] for _s, c, m, _a in SCENARIOS}
        # ... in Temporal's filtered list, as the UI shows it, under readable ids ...
        counted = first.pending_in_temporal(5)
        assert "Total: 5" in counted, counted
        history = first.cli("requests", "--shop-code", "USADMIN003")["requests"]
        assert {r["workflow_id"] for r in history} == {
            "request-access:bc-7100000000000000001:shop-USADMIN003",
            "add-my-shop:bc-7100000000000000001:shop-USADMIN003",
        }
        # ... and each shop's team got its e-mail (one per team member), which the
        # printed one-liner finds. They go out after each admission answered: wait.
        outbox = data / "outbox"
        wait_until_sync(lambda: len(list(outbox.glob("*.eml"))) >= 5, what="5 e-mails")
        assert len(list(outbox.glob("*.eml"))) == 5
        links = subprocess.run(
            [sys.executable, "-m", "devtools.demo", "links", "oli@brand-linked.com"],
            cwd=ROOT, env=first.cli_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        url = re.search(r"http://\S+/approve/\S+", links.stdout)
        assert url and url.group(0).startswith(f"http://127.0.0.1:{first.ports['web']}/approve/")
        with urllib.request.urlopen(url.group(0), timeout=10) as page:
            assert "GBLINKED01" in page.read().decode()

        # The quick start says where the metrics are, and they count the demo.
        worker_metrics = f"http://127.0.0.1:{first.ports['metrics']}/metrics"
        assert worker_metrics in output
        with urllib.request.urlopen(worker_metrics, timeout=10) as page:
            figures = page.read().decode()
        assert 'shop_access_requests_admitted_total{method="request_access"} 4.0' in figures
        assert 'shop_access_requests_admitted_total{method="add_my_shop"} 1.0' in figures
        assert 'shop_access_pending_requests{method="request_access"} 4.0' in figures
        assert "temporal_" in figures  # the SDK's own, on the same page
        web_metrics = f"http://127.0.0.1:{first.ports['web']}/metrics"
        with urllib.request.urlopen(web_metrics, timeout=10) as page:
            assert "shop_access_http_requests_total" in page.read().decode()

        # The banner says where the ops API is; its schema is open, its calls
        # need a token.
        api = f"http://127.0.0.1:{first.ports['web']}/api/v1"
        assert api in output
        with urllib.request.urlopen(f"{api}/openapi.json", timeout=10) as page:
            assert json.loads(page.read())["info"]["title"] == "Shop Access ops API"
        with pytest.raises(urllib.error.HTTPError) as refused_call:
            urllib.request.urlopen(f"{api}/requests?bc_id=7100000000000000001", timeout=10)
        assert refused_call.value.code == 401

        # S1 and S3 approved; S3's win expires the racing "Add my shop" (R11).
        s1 = history_id(first, "GBLINKED01", "request_access")
        first.cli("approve", s1, "--as", "oli@brand-linked.com")
        s3 = history_id(first, "USADMIN003", "request_access")
        first.cli("approve", s3, "--as", "raj@brand-admin.com", "--bc", "7100000000000000004")
        # S4 cannot be approved: a refusal, told to the caller, and no traceback in the
        # quick start's output (the worker logs refusals as answers, not faults).
        s4 = history_id(first, "THMEMBER04", "request_access")
        refused = subprocess.run(
            [sys.executable, "starter.py", "approve", s4, "--as", "kim@brand-member.com",
             "--json"],
            cwd=ROOT, env=first.cli_env, capture_output=True, text=True,
        )  # fmt: skip
        assert refused.returncode == 1
        assert json.loads(refused.stdout)["error"]["code"] == "bc_admin_required"
        assert "Traceback" not in first.output, first.output

    # Again on the same data dir: clean, and nothing new for held or pending shops.
    again = Stack(tmp_path, data, "again")
    with again.running():
        output = again.output
        assert "Traceback" not in output, output
        assert f"Keeping the state in {data}" in output
        assert "Demo data already loaded; kept as it is." in output
        lines = scenario_lines(output)
        for key in (("S1", "GBLINKED01", "request_access"), ("S3", "USADMIN003", "request_access"),
                    ("R11", "USADMIN003", "add_my_shop")):  # fmt: skip
            assert lines[key].startswith("kept: Agency One already holds the shop as partner")
        for key in (("S2", "SGNEWBC002", "request_access"), ("S4", "THMEMBER04", "request_access")):
            assert re.match(r"kept req_\w+, still pending\n +approve as ", lines[key])
        assert again.requests() == {
            ("GBLINKED01", "request_access"): ["approved"],
            ("SGNEWBC002", "request_access"): ["pending"],
            ("USADMIN003", "request_access"): ["approved"],
            ("USADMIN003", "add_my_shop"): ["expired"],
            ("THMEMBER04", "request_access"): ["pending"],
        }
        counted = again.pending_in_temporal(2)
        assert "Total: 2" in counted, counted
        # S3 linked Raj's BC to USADMIN003, and the re-run kept it: another BC's request
        # is now one click (S1) for Raj.
        sub = again.cli(
            "request-access", "--bc", "7100000000000000002", "--shop-code", "USADMIN003",
            "--as", "lee@subagency.com",
        )  # fmt: skip
        done = again.cli("approve", sub["request_id"], "--as", "raj@brand-admin.com")
        assert done["status"] == "approved"
        assert "Traceback" not in again.output, again.output

    # --reset: from nothing.
    fresh = Stack(tmp_path, data, "fresh")
    with fresh.running("--reset"):
        output = fresh.output
        assert f"Reset {data}: deleted temporal.db" in output
        assert all(line.startswith("started req_") for line in scenario_lines(output).values())
        assert fresh.requests() == {(c, m): ["pending"] for _s, c, m, _a in SCENARIOS}
        outbox = data / "outbox"
        wait_until_sync(lambda: len(list(outbox.glob("*.eml"))) >= 5, what="5 e-mails")
        assert len(list(outbox.glob("*.eml"))) == 5


def history_id(stack: Stack, code: str, method: str) -> str:
    rows = stack.cli("requests", "--shop-code", code)["requests"]
    [row] = [r for r in rows if r["method"] == method and r["status"] == "pending"]
    return str(row["request_id"])
