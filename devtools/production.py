"""The production shape on one machine: ``scripts/production``.

    scripts/production [--workers 2] [--web 2] [--web-port 8000] [--health-port 9100]
                       [--metrics-port 9464]

Reads the environment a real deployment sets: TEMPORAL_ADDRESS (required: the cluster,
or a dev server standing in for it; Temporal Cloud through TEMPORAL_API_KEY / TLS /
TEMPORAL_PROFILE), DATABASE_URL (required, PostgreSQL), SECRET_KEY (required), SMTP_URL
(unset: the outbox, with a warning), LINK_BASE_URL (default: the first web process).
Migrates the store first, then starts the worker processes (worker i: /healthz and
/readyz on --health-port + i, metrics on --metrics-port + i) and the link-handler
processes (web i on --web-port + i, /healthz, /readyz and /metrics there), waits until
every process answers /readyz, prints where each one is, and supervises them: Ctrl-C or
SIGTERM stops them all gracefully; if one exits, the rest are stopped and the exit status
is 1. In a real deployment each process runs under its own supervisor (systemd, an
orchestrator) with these same variables; see docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_WITHIN = 90.0


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    ready_url: str
    urls: dict[str, str] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/production",
        description="Run shop-access in its production shape on this machine: PostgreSQL "
        "store, Temporal at TEMPORAL_ADDRESS, several workers and link handlers, real SMTP, "
        "metrics and health endpoints. Required: TEMPORAL_ADDRESS, DATABASE_URL "
        "(postgresql+psycopg://...), SECRET_KEY. Ctrl-C or SIGTERM stops it all.",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--web", type=int, default=2, help="link-handler processes (default 2)")
    parser.add_argument("--web-port", type=int, default=8000, help="first link handler's port")
    parser.add_argument(
        "--health-port", type=int, default=9100, help="first worker's /healthz and /readyz port"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=9464, help="first worker's /metrics port"
    )
    args = parser.parse_args(argv)
    for name in ("workers", "web"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def refuse_environment(env: Mapping[str, str]) -> str | None:
    """Why this environment is not a production one, or None."""
    if not env.get("TEMPORAL_ADDRESS") and not env.get("TEMPORAL_PROFILE"):
        return (
            "TEMPORAL_ADDRESS is not set: give the Temporal frontend (host:port), or "
            "TEMPORAL_PROFILE with TEMPORAL_CONFIG_FILE for Temporal Cloud"
        )
    url = env.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return (
            "DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://user:pass@host/db): "
            "several processes write to the store at once"
        )
    if env.get("DEV_MODE", "0") not in ("", "0", "false"):
        return "DEV_MODE is on: unset it, and set SECRET_KEY to a long random value"
    if not env.get("SECRET_KEY"):
        return "SECRET_KEY is not set: give a long random value (it signs links and forms)"
    return None


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


def wait_ready(children: list[Child], within: float = READY_WITHIN) -> None:
    """Until every child's /readyz says 200; SystemExit naming the one that did not."""
    deadline = time.monotonic() + within
    pending = list(children)
    last: dict[str, str] = {}
    while pending:
        for child in list(pending):
            if child.proc.poll() is not None:
                raise SystemExit(
                    f"{child.name} exited with status {child.proc.returncode} while starting"
                )
            try:
                status, body = _get(child.ready_url, timeout=10)
            except OSError as err:  # not listening yet
                last[child.name] = str(err)
                continue
            if status == 200:
                pending.remove(child)
            else:
                last[child.name] = _reason(body)
        if pending and time.monotonic() > deadline:
            names = ", ".join(f"{c.name} ({last.get(c.name, 'no answer')})" for c in pending)
            raise SystemExit(f"not ready within {within:.0f} s: {names}")
        if pending:
            time.sleep(0.3)


def _reason(body: str) -> str:
    try:
        return str(json.loads(body).get("reason", body))
    except ValueError:
        return body[:200]


def _stop_all(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def _migrate(env: dict[str, str]) -> bool:
    migrated = subprocess.run(
        [sys.executable, "starter.py", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if migrated.returncode != 0:
        print(f"scripts/production: migrate failed:\n{migrated.stderr}", file=sys.stderr)
        return False
    print(migrated.stdout.strip(), flush=True)
    return True


def _start_workers(args: argparse.Namespace, env: dict[str, str], children: list[Child]) -> None:
    # Appended one by one, so a failure part-way still stops the ones already started.
    for i in range(args.workers):
        health = f"{HOST}:{args.health_port + i}"
        metrics = f"{HOST}:{args.metrics_port + i}"
        proc = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env={**env, "WORKER_HEALTH_ADDRESS": health, "METRICS_ADDRESS": metrics},
        )
        children.append(
            Child(
                f"worker {i + 1}",
                proc,
                f"http://{health}/readyz",
                {"health": f"http://{health}/readyz", "metrics": f"http://{metrics}/metrics"},
            )
        )


def _start_link_handlers(
    args: argparse.Namespace, env: dict[str, str], children: list[Child]
) -> None:
    for i in range(args.web):
        port = args.web_port + i
        proc = subprocess.Popen(
            [sys.executable, "-m", "linkhandler"],
            cwd=ROOT,
            env={**env, "WEB_HOST": HOST, "WEB_PORT": str(port), "WEB_METRICS": "1"},
        )
        base = f"http://{HOST}:{port}"
        children.append(
            Child(
                f"link handler {i + 1}",
                proc,
                f"{base}/readyz",
                {"pages": base, "health": f"{base}/readyz", "metrics": f"{base}/metrics"},
            )
        )


def ready_report(children: list[Child], env: Mapping[str, str]) -> str:
    """Where each process is, once all are ready."""
    lines = ["", "shop-access (production shape) is ready:"]
    for child in children:
        where = "  ".join(f"{k} {v}" for k, v in child.urls.items())
        lines.append(f"  {child.name:<16} pid {child.proc.pid:<7} {where}")
    lines += [
        f"  Links in e-mails point to {env['LINK_BASE_URL']}",
        f"  Temporal at {env.get('TEMPORAL_ADDRESS') or env.get('TEMPORAL_PROFILE')}; "
        f"mail via {'SMTP' if env.get('SMTP_URL') else 'the outbox'}",
        "Ctrl-C or SIGTERM stops everything.",
    ]
    return "\n".join(lines)


def _supervise(children: list[Child]) -> int:
    """Until one child exits (then 1); Ctrl-C and SIGTERM end it with KeyboardInterrupt."""
    while True:
        for child in children:
            if child.proc.poll() is not None:
                print(
                    f"{child.name} exited with status {child.proc.returncode}; stopping.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        time.sleep(0.5)


def _production_env(args: argparse.Namespace) -> tuple[dict[str, str], str | None]:
    """The children's environment, and why it is not a production one (or None)."""
    env = dict(os.environ)
    refusal = refuse_environment(env)
    if refusal:
        return env, refusal
    if not env.get("SMTP_URL"):
        print(
            "scripts/production: SMTP_URL is not set; e-mails go to MAIL_OUTBOX_DIR",
            file=sys.stderr,
        )
    env.setdefault("LINK_BASE_URL", f"http://{HOST}:{args.web_port}")
    return env, None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env, refusal = _production_env(args)
    if refusal:
        print(f"scripts/production: {refusal}", file=sys.stderr)
        return 2
    children: list[Child] = []
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        if not _migrate(env):
            return 1
        _start_workers(args, env, children)
        _start_link_handlers(args, env, children)
        wait_ready(children)
        print(ready_report(children, env), flush=True)
        return _supervise(children)
    except KeyboardInterrupt:
        return 0
    except SystemExit as err:
        print(f"scripts/production: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        _stop_all(children)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
