"""The quick start: the whole stack on embedded defaults, in the foreground.

    python -m devtools.quickstart [--temporal-port 7233] [--ui-port 8233] [--web-port 8000]
                            [--metrics-port 9464] [--data-dir var] [--no-demo] [--reset]

Starts the Temporal dev server (a SQLite file under var/, web UI, search attributes
registered, tuned as in devtools.devserver), migrates the store (SQLite under var/ unless
DATABASE_URL says otherwise), starts the worker and the seller link handler as child
processes, loads the demo data with one request per scenario, prints where everything is,
and stops it all cleanly on Ctrl-C. Everything it runs ships in the virtualenv: nothing
downloads. Run again on the same data dir it keeps what is there; --reset starts afresh.

This module imports only the standard library at the top, so scripts/quickstart answers
--help and usage errors before it installs anything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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
        description="Install shop-access into .venv (first run only), then run it on embedded "
        "defaults: Temporal dev server + UI, worker, seller link handler, SQLite store, e-mail "
        "outbox, demo data. Ctrl-C stops it all.",
        epilog="Run again on the same data dir, it keeps the store, the workflows and the "
        "outbox, and starts no demo request already pending or approved.",
    )
    for flag, default, what in (
        ("--temporal-port", 7233, "Temporal frontend port"),
        ("--ui-port", 8233, "Temporal web UI port"),
        ("--web-port", 8000, "seller link handler port"),
        ("--metrics-port", 9464, "worker's Prometheus /metrics port"),
    ):
        parser.add_argument(
            flag, type=_port_number, default=default, help=f"{what} (default: {default})"
        )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var"),
        help="where the Temporal database, the store and the outbox live (default: %(default)s; "
        "relative paths are from the checkout)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    parser.add_argument(
        "--reset",
        action="store_true",
        help="delete the data dir's Temporal database, store and outbox first: start afresh",
    )
    # scripts/quickstart parses the arguments once before installing (help, usage errors).
    parser.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _port_number(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value


HELP_SHOWN = 100  # scripts/quickstart's pre-install check: --help was printed, stop.

# What --reset deletes in the data dir; var/pip.log and anything else stay.
_STATE_FILES = ("temporal.db", "shop_access.db")


def reset(data: Path, database_url: str) -> list[str]:
    """Delete the quick start's state under ``data``; return what went."""
    gone = []
    for name in _STATE_FILES:
        for path in sorted(data.glob(name + "*")):  # with SQLite's -wal / -shm / -journal
            path.unlink()
            gone.append(path.name)
    if (data / "outbox").is_dir():
        shutil.rmtree(data / "outbox")
        gone.append("outbox/")
    if database_url != f"sqlite:///{data / 'shop_access.db'}":
        print(f"--reset leaves the store at DATABASE_URL={database_url} as it is.", flush=True)
    return gone


def banner(env: dict[str, str], ui_port: int) -> str:
    """Where everything is, and the export line the README's "Try it" starts from."""
    return (
        "\nshop-access is running:\n"
        f"  Temporal UI      http://127.0.0.1:{ui_port}  (filter: RequestStatus = 'pending';\n"
        "                   ids read request-access:bc-<BC id>:shop-<shop code>; a\n"
        "                   workflow's one-line summary is under User Metadata)\n"
        f"  Link handler     {env['LINK_BASE_URL']}\n"
        f"  Ops HTTP API     {env['LINK_BASE_URL']}/api/v1  (docs at /api/v1/docs; a token:\n"
        "                   starter.py api-token create --name me --scope act)\n"
        f"  E-mail outbox    {env['MAIL_OUTBOX_DIR']}\n"
        f"  Store            {env['DATABASE_URL']}\n"
        f"  Metrics          http://{env['METRICS_ADDRESS']}/metrics (worker), "
        f"{env['LINK_BASE_URL']}/metrics (link handler)\n"
        '  From another shell, in this checkout (the README\'s "Try it" starts here):\n'
        f"    export DEV_MODE=1 TEMPORAL_ADDRESS={env['TEMPORAL_ADDRESS']} "
        f"DATABASE_URL={env['DATABASE_URL']} MAIL_OUTBOX_DIR={env['MAIL_OUTBOX_DIR']}\n"
        "    .venv/bin/python -m devtools.demo links oli@brand-linked.com   # S1's approval link\n"
        "    .venv/bin/python starter.py --help\n"
        "Press Ctrl-C to stop everything."
    )


HOST = "127.0.0.1"
Children = list[tuple[str, "subprocess.Popen[bytes]"]]


def _port_taken(args: argparse.Namespace) -> str | None:
    """A refusal naming the first of our ports something else holds, or None."""
    for port, what in (
        (args.temporal_port, "Temporal"),
        (args.ui_port, "the Temporal UI"),
        (args.web_port, "the link handler"),
        (args.metrics_port, "the worker's metrics"),
    ):
        if _port_open(HOST, port):
            return (
                f"Port {port} (for {what}) is already in use; stop what holds it or pass "
                "another port (see --help)."
            )
    return None


def _stack_env(args: argparse.Namespace, data: Path) -> dict[str, str]:
    """The children's environment; with --reset, the data dir's state deleted first."""
    env = dict(os.environ)
    env.setdefault("DEV_MODE", "1")
    env.setdefault("DATABASE_URL", f"sqlite:///{data / 'shop_access.db'}")
    if args.reset:
        gone = reset(data, env["DATABASE_URL"])
        print(f"Reset {data}: deleted {', '.join(gone) or 'nothing (it was empty)'}.", flush=True)
    elif (data / "temporal.db").exists():
        print(f"Keeping the state in {data} (--reset starts afresh).", flush=True)
    env.setdefault("MAIL_OUTBOX_DIR", str(data / "outbox"))
    env["TEMPORAL_ADDRESS"] = f"{HOST}:{args.temporal_port}"
    env["WEB_HOST"], env["WEB_PORT"] = HOST, str(args.web_port)
    env.setdefault("LINK_BASE_URL", f"http://{HOST}:{args.web_port}")
    env["METRICS_ADDRESS"] = f"{HOST}:{args.metrics_port}"
    return env


def _start(
    children: Children, env: dict[str, str], what: str, cmd: list[str]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    children.append((what, proc))
    return proc


def _stop_all(children: Children) -> None:
    for what, proc in reversed(children):
        if proc.poll() is None:
            print(f"Stopping {what}...", flush=True)
            proc.send_signal(signal.SIGTERM)
    for _what, proc in reversed(children):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def _start_stack(
    args: argparse.Namespace, env: dict[str, str], data: Path, children: Children
) -> None:
    """Temporal, the store's migration, the worker, the link handler and the demo, in order."""
    from devtools.devserver import start_dev_command

    python = sys.executable
    server = _start(
        children,
        env,
        "the Temporal dev server",
        start_dev_command(
            port=args.temporal_port, ui_port=args.ui_port, db_file=data / "temporal.db"
        ),
    )
    _wait_for_port(HOST, args.temporal_port, server, "The Temporal dev server")
    subprocess.run([python, "starter.py", "migrate"], cwd=ROOT, env=env, check=True)
    _start(children, env, "the worker", [python, "worker.py"])
    if (ROOT / "linkhandler" / "__main__.py").exists():
        web = _start(children, env, "the link handler", [python, "-m", "linkhandler"])
        _wait_for_port(HOST, args.web_port, web, "The link handler")
    if not args.no_demo:
        subprocess.run([python, "starter.py", "seed-demo"], cwd=ROOT, env=env, check=True)


def _supervise(children: Children) -> int:
    """Until a child exits (then 1); Ctrl-C and SIGTERM end it with KeyboardInterrupt."""
    while True:
        for what, proc in children:
            if proc.poll() is not None:
                print(f"{what} exited with status {proc.returncode}; stopping.", file=sys.stderr)
                return 1
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except SystemExit as done:
        if done.code == 0 and "--check-args" in argv:
            return HELP_SHOWN  # scripts/quickstart stops here: no install for --help
        raise
    if args.check_args:
        return 0
    data: Path = (ROOT / args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    if taken := _port_taken(args):
        print(taken, file=sys.stderr)
        return 2
    env = _stack_env(args, data)
    children: Children = []
    # SIGTERM (e.g. from a process manager) stops the stack as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        _start_stack(args, env, data, children)
        print(banner(env, args.ui_port), flush=True)
        return _supervise(children)
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as err:
        print(f"A set-up step failed: {err}", file=sys.stderr)
        return 1
    finally:
        _stop_all(children)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
