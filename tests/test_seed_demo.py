"""``starter.py seed-demo`` without a running stack (the quick start covers it with one).

With Temporal down it refuses before writing anything; ``--no-requests`` loads the data
set once and, run again, keeps it as it is (a reload would undo the BCs approvals link
to shops, S2/S3).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from sqlmodel import func, select

from models.tables import Shop
from store.db import make_engine, read_session
from tests.starter_process import Finished, run_starter


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def starter(tmp_path: Path, *args: str) -> Finished:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))},
        "DEV_MODE": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{unused_port()}",  # nothing listens there
    }
    return run_starter(list(args), env)


def shops(tmp_path: Path) -> int:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with read_session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Shop)).one())


def out(done: Finished) -> Any:
    return json.loads(done.out)


def test_seed_demo_refuses_without_temporal_and_writes_nothing(tmp_path: Path) -> None:
    assert starter(tmp_path, "migrate").code == 0
    refused = starter(tmp_path, "seed-demo", "--json")
    assert refused.code == 1
    error = out(refused)["error"]
    assert error["code"] == "service_unavailable"
    assert "Cannot reach Temporal" in error["message"]
    assert shops(tmp_path) == 0


def test_seed_demo_loads_the_data_once_and_then_keeps_it(tmp_path: Path) -> None:
    assert starter(tmp_path, "migrate").code == 0
    first = starter(tmp_path, "seed-demo", "--no-requests", "--json")
    assert first.code == 0, first.err
    assert out(first) == {
        "loaded": {"users": 8, "business_centers": 5, "shops": 4},
        "data_kept": False,
        "requests": [],
    }
    again = starter(tmp_path, "seed-demo", "--no-requests")
    assert again.code == 0, again.err
    assert again.out.strip() == "Demo data already loaded; kept as it is."
    assert shops(tmp_path) == 4
