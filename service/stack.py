"""The quick start: the whole stack on embedded defaults, in the foreground.

    python -m service.stack [--temporal-port 7233] [--ui-port 8233] [--web-port 8000]
                            [--metrics-port 9464]

Starts the Temporal dev server (a SQLite file under var/, web UI, search attributes
registered, tuned as in service.devserver), migrates the store (SQLite under var/ unless
DATABASE_URL says otherwise), starts the worker and the seller link handler as child
processes, loads the demo data with one request per scenario, prints where everything is,
and stops it all cleanly on Ctrl-C. Everything it runs ships in the virtualenv: nothing
downloads.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from service.devserver import start_dev_command

ROOT = Path(__file__).resolve().parent.parent


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}; see its log above")
        if _port_open(host, port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {host}:{port} within 60 s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/quickstart",
        description="Run shop-access on embedded defaults: Temporal dev server + UI, worker, "
        "seller link handler, SQLite store, e-mail outbox, demo data. Ctrl-C stops it all.",
    )
    parser.add_argument("--temporal-port", type=int, default=7233, help="Temporal frontend port")
    parser.add_argument("--ui-port", type=int, default=8233, help="Temporal web UI port")
    parser.add_argument("--web-port", type=int, default=8000, help="seller link handler port")
    parser.add_argument(
        "--metrics-port", type=int, default=9464, help="worker's Prometheus /metrics port"
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var", help="where state lives")
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1"
    for port, what in (
        (args.temporal_port, "Temporal"),
        (args.ui_port, "the Temporal UI"),
        (args.web_port, "the link handler"),
        (args.metrics_port, "the worker's metrics"),
    ):
        if _port_open(host, port):
            print(
                f"Port {port} (for {what}) is already in use; stop what holds it or pass "
                "another port (see --help).",
                file=sys.stderr,
            )
            return 2

    env = dict(os.environ)
    env.setdefault("DEV_MODE", "1")
    env.setdefault("DATABASE_URL", f"sqlite:///{data / 'shop_access.db'}")
    env.setdefault("MAIL_OUTBOX_DIR", str(data / "outbox"))
    env["TEMPORAL_ADDRESS"] = f"{host}:{args.temporal_port}"
    env["WEB_HOST"], env["WEB_PORT"] = host, str(args.web_port)
    env.setdefault("LINK_BASE_URL", f"http://{host}:{args.web_port}")
    env["METRICS_ADDRESS"] = f"{host}:{args.metrics_port}"
    python = sys.executable

    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(what: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        children.append((what, proc))
        return proc

    def stop_all(*_: object) -> None:
        for what, proc in reversed(children):
            if proc.poll() is None:
                print(f"Stopping {what}...", flush=True)
                proc.send_signal(signal.SIGTERM)
        for _what, proc in reversed(children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (e.g. from a process manager) stops the stack as Ctrl-C does.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        server = start(
            "the Temporal dev server",
            start_dev_command(
                port=args.temporal_port, ui_port=args.ui_port, db_file=data / "temporal.db"
            ),
        )
        _wait_for_port(host, args.temporal_port, server, "The Temporal dev server")
        subprocess.run([python, "starter.py", "migrate"], cwd=ROOT, env=env, check=True)
        start("the worker", [python, "worker.py"])
        if (ROOT / "web" / "__main__.py").exists():
            web = start("the link handler", [python, "-m", "web"])
            _wait_for_port(host, args.web_port, web, "The link handler")
        if not args.no_demo:
            subprocess.run([python, "starter.py", "seed-demo"], cwd=ROOT, env=env, check=True)
        print(
            "\nshop-access is running:\n"
            f"  Temporal UI      http://{host}:{args.ui_port}"
            "  (filter: RequestStatus = 'pending')\n"
            f"  Link handler     {env['LINK_BASE_URL']}\n"
            f"  E-mail outbox    {env['MAIL_OUTBOX_DIR']}  (open a .eml, follow its link)\n"
            f"  Store            {env['DATABASE_URL']}\n"
            f"  Metrics          http://{env['METRICS_ADDRESS']}/metrics (worker), "
            f"{env['LINK_BASE_URL']}/metrics (link handler)\n"
            "  Ops CLI, from another shell:\n"
            f"    export DEV_MODE=1 TEMPORAL_ADDRESS={env['TEMPORAL_ADDRESS']} "
            f"DATABASE_URL={env['DATABASE_URL']}\n"
            "    .venv/bin/python starter.py --help\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )
        while True:
            for what, proc in children:
                if proc.poll() is not None:
                    print(
                        f"{what} exited with status {proc.returncode}; stopping.", file=sys.stderr
                    )
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as err:
        print(f"A set-up step failed: {err}", file=sys.stderr)
        return 1
    finally:
        stop_all()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
