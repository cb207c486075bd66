"""How many activity threads a worker runs (docs/operations.md, docs/performance.md)."""

from __future__ import annotations

from typing import cast

import pytest

from models.settings import Settings


@pytest.mark.parametrize(
    ("database_url", "smtp_url", "threads"),
    [
        ("sqlite:///var/shop_access.db", None, 2),  # the embedded defaults: CPU-bound work
        ("sqlite:///var/shop_access.db", "smtp://127.0.0.1:25", 8),  # sends wait on a relay
        ("postgresql+psycopg://u@db/shop_access", None, 4),  # queries wait on the network
    ],
)
def test_activity_threads_follow_the_store_and_the_mail_transport(
    database_url: str, smtp_url: str | None, threads: int
) -> None:
    settings = Settings(database_url=database_url, smtp_url=smtp_url, dev_mode=True)
    assert settings.activity_threads == threads


def test_an_explicit_thread_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_ACTIVITY_THREADS", "5")
    assert Settings(dev_mode=True).activity_threads == 5
    monkeypatch.setenv("WORKER_ACTIVITY_THREADS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(dev_mode=True)


@pytest.mark.parametrize(
    ("database_url", "threads"),
    [("sqlite:///var/shop_access.db", 4), ("postgresql+psycopg://u@db/shop_access", 16)],
)
def test_page_threads_follow_the_store(database_url: str, threads: int) -> None:
    assert Settings(database_url=database_url, dev_mode=True).page_threads == threads


async def test_the_link_handler_renders_pages_in_page_threads(settings: Settings) -> None:
    """The web app's thread limiter is what ``page_threads`` says, once it has started."""
    from anyio import to_thread
    from temporalio.client import Client

    from linkhandler.app import create_app

    app = create_app(settings.model_copy(update={"web_threads": 3}), client=cast(Client, object()))
    limiter = to_thread.current_default_thread_limiter()
    before = limiter.total_tokens
    try:
        async with app.router.lifespan_context(app):
            assert limiter.total_tokens == 3
    finally:
        limiter.total_tokens = before  # the session's event loop serves other tests
