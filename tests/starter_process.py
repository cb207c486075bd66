"""``starter.py`` as a process of its own, without paying for its imports on every call.

A test that runs the CLI wants what a script gets: a process with its own environment,
arguments and working directory, whose exit status, stdout and stderr are the contract.
It does not need a new interpreter importing click, SQLAlchemy, pydantic and temporalio
again each time: about 0.7 s of CPU per call, hundreds of calls per run. So one server
process per test process imports ``starter`` once and forks a child per call; the child
takes the call's environment, arguments and working directory and runs ``starter.main()``,
which ends in ``os._exit`` with the command's status exactly as ``python starter.py`` does.

Nothing the server imports reads the environment or starts a thread at import (a fork
with threads running would be unsafe), and the server calls nothing in the project, so a
child starts as clean as a new interpreter would, only sooner. Tests about the
interpreter itself (start-up, signals, a terminal) start ``python starter.py`` directly.

Protocol, one connection per call on a Unix socket: the test sends one JSON line (args,
env, cwd and the files for stdout and stderr); the server answers the child's pid, then
its exit status, each on a line.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str


# --- the server (its own process) ---------------------------------------------------------


def serve(path: str) -> NoReturn:
    """Import the CLI once, then fork a child per connection on ``path``, for ever."""
    import starter  # noqa: F401  (the imports every call shares)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the per-call children reap themselves
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            _answer(conn)
        conn.close()


def _answer(conn: socket.socket) -> NoReturn:
    """In a forked child: run one call in a grandchild and report its pid and status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # so waitpid sees the status
    with conn.makefile("r", encoding="utf-8") as lines:
        call = json.loads(lines.readline())
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become_the_command(call)
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    os._exit(0)


def _become_the_command(call: dict[str, Any]) -> NoReturn:
    os.chdir(call["cwd"])
    os.environ.clear()
    os.environ.update(call["env"])
    for fd, name, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, call["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, call["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(name, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.argv = ["starter.py", *call["args"]]
    import starter

    starter.main()


# --- the test side ------------------------------------------------------------------------

_lock = threading.Lock()
_server: tuple[subprocess.Popen[str], str] | None = None


def _socket_path() -> str:
    """The server's socket, started on first use in this test process and stopped at exit."""
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            path = os.path.join(tempfile.mkdtemp(prefix="starter-"), "sock")
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from tests.starter_process import serve; serve({path!r})"],
                cwd=ROOT, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            atexit.register(proc.kill)
            _server = (proc, path)
        return _server[1]


def run_starter(args: list[str], env: dict[str, str], *, cwd: Path = ROOT) -> Finished:
    """``python starter.py *args`` with exactly ``env``: its exit status, stdout, stderr.

    Blocks; async tests call it through ``asyncio.to_thread``. A call still running after
    ``TIMEOUT`` is killed and fails the test."""
    with tempfile.TemporaryDirectory(prefix="starter-call-") as scratch:
        out, err = Path(scratch) / "out", Path(scratch) / "err"
        call = {"args": args, "env": env, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(_socket_path())
            conn.sendall(json.dumps(call).encode() + b"\n")
            conn.settimeout(TIMEOUT)
            with conn.makefile("r", encoding="utf-8") as answers:
                pid = int(answers.readline())
                try:
                    code = int(answers.readline())
                except TimeoutError:
                    os.kill(pid, signal.SIGKILL)
                    raise AssertionError(f"starter.py {' '.join(args)}: still running after "
                                         f"{TIMEOUT:.0f} s, killed") from None  # fmt: skip
        return Finished(code, out.read_text(), err.read_text())
