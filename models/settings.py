"""The one settings object. Entry points build it and pass it down; nothing reads the
environment at import time.

Temporal's own connection variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS_*) are read by ``temporalio.envconfig`` in
``client.temporal``, so they behave exactly as Temporal's other tools read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.enums import MAX_REMINDERS
from models.networks import parse_networks

DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/shop_access.db",
        description="SQLAlchemy URL of the store; SQLite file by default, postgresql+psycopg://…",
    )
    task_queue: str = Field(default="shop-access", description="Temporal task queue")
    smtp_url: str | None = Field(
        default=None,
        description="smtp://user:pass@host:port (smtps:// for TLS); unset: write to the outbox",
    )
    mail_outbox_dir: Path = Field(
        default=Path("var/outbox"), description="Where .eml files go when no SMTP is set"
    )
    mail_from: str = Field(default="Shop Access <no-reply@shop-access.local>")
    link_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the seller link handler"
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET), description="Signs approval links and form tokens"
    )
    secret_keys_old: SecretStr = Field(
        default=SecretStr(""),
        description="Earlier SECRET_KEYs, comma-separated, that still verify links, forms and "
        "sessions but never sign: rotate by moving SECRET_KEY here (docs/operations.md)",
    )
    personal_link_asks_per_hour: int = Field(
        default=3,
        ge=1,
        description="Personal-link asks from a copied link allowed per request and per "
        "address in any hour; more get the same answer and no e-mail (R7)",
    )
    dev_mode: bool = Field(
        default=False, description="Allows the built-in development secret (quick start only)"
    )
    web_host: str = Field(default="127.0.0.1")
    web_port: int = Field(default=8000)
    web_threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads the link handler reads the store and renders pages in; unset: "
        "4 with a SQLite store, else 16 (see page_threads)",
    )
    worker_activity_threads: int | None = Field(
        default=None,
        ge=1,
        description="Activity threads per worker; unset: 2 with a SQLite store and the "
        "outbox, 8 with SQLite and SMTP, 4 with PostgreSQL (see activity_threads)",
    )
    worker_max_cached_workflows: int = Field(
        default=500,
        ge=0,
        description="Workflows a worker keeps in memory between tasks (SDK default 1,000). "
        "Pending requests wait for ever (R9); an evicted one is replayed from its short "
        "history when a message arrives. Each cached run costs about 0.15 MB in the "
        "sandbox: bench/pending_rss.py and docs/performance.md",
    )
    worker_sandbox: bool = Field(
        default=True,
        description="Run workflows in the SDK's sandbox (non-determinism checks). Off "
        "saves worker CPU per new run (docs/performance.md); tests stay sandboxed",
    )

    request_reminder_days: str = Field(
        default="3,10",
        description="R25: days after the last e-mail to the shop team when a still-pending "
        "request reminds them, comma-separated, ascending, at most two; empty: no reminders",
    )

    worker_health_address: str | None = Field(
        default=None,
        description="host:port where the worker serves /healthz and /readyz "
        "(runtime/health_server.py); unset: no health endpoint",
    )

    # Observability (docs/operations.md, "Metrics, traces and logs"). Traces are
    # configured by OpenTelemetry's own OTEL_* variables (runtime/tracing.py).
    metrics_address: str | None = Field(
        default=None,
        description="host:port where the worker serves /metrics (its own and the Temporal "
        "SDK's); unset: no metrics",
    )
    web_metrics: bool = Field(
        default=True, description="The link handler counts requests and serves /metrics"
    )
    api_calls_per_minute: int = Field(
        default=300,
        ge=1,
        description="Ops API calls one token may make per minute, counted in the store across "
        "link-handler processes; more get 429 with Retry-After (docs/api.md)",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="CIDR networks, comma-separated, where webhook receivers may be even "
        "though internal (loopback, private, link-local...), http included; empty: none. "
        "Everywhere else R31 allows only public https receivers (docs/webhooks.md)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for people, json (one object per line) for pipelines"
    )

    @field_validator("worker_health_address", "metrics_address")
    @classmethod
    def _host_and_port(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value:
            host, sep, port = value.rpartition(":")
            if not sep or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
                name = (info.field_name or "address").upper()
                raise ValueError(f"{name} must be host:port, not {value!r}")
        return value or None

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("request_reminder_days")
    @classmethod
    def _reminder_days(cls, value: str) -> str:
        parse_reminder_days(value)
        return value

    @property
    def reminder_days(self) -> list[int]:
        """R25's policy as the request workflow's input takes it."""
        return parse_reminder_days(self.request_reminder_days)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if not self.dev_mode and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "SECRET_KEY is the built-in development secret; set SECRET_KEY to a long "
                "random value (or DEV_MODE=1 on a development machine)"
            )
        if len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        for old in self.secret_keys[:-1]:
            if len(old) < 16 or old == DEV_SECRET:
                raise ValueError(
                    "each SECRET_KEYS_OLD entry must be a former SECRET_KEY of at least 16 "
                    "characters (not the built-in development secret)"
                )
        return self

    @property
    def secret_keys(self) -> list[str]:
        """Every key that verifies, oldest first; the last, SECRET_KEY, is the one that signs.

        SECRET_KEYS_OLD lists the earlier keys newest first, as one adds them at the front
        when rotating; itsdangerous wants the reverse.
        """
        old = [k.strip() for k in self.secret_keys_old.get_secret_value().split(",")]
        current = self.secret_key.get_secret_value()
        return [k for k in reversed(old) if k and k != current] + [current]

    @property
    def activity_threads(self) -> int:
        """How many activities a worker runs at once, each in a thread.

        With a SQLite store and the outbox, activities are CPU work under one GIL, and
        SQLite runs one writer at a time anyway: extra threads only fight the worker's
        event loop for the GIL, which made approvals slower at equal throughput
        (docs/performance.md). Two keep a long activity (a page of campaign stops) from
        holding up the rest. PostgreSQL and SMTP make activities wait on the network,
        where threads pay, but only up to a point: on PostgreSQL every thread back from a
        round trip queues for the GIL, and a transaction queued there holds the audit
        chain's head (R27) for every other writer. Four against eight cut the head's waits
        to a third and approval latency by half at the same throughput
        (docs/performance.md).
        """
        if self.worker_activity_threads is not None:
            return self.worker_activity_threads
        if not self.database_url.startswith("sqlite"):
            return 4
        return 8 if self.smtp_url else 2  # SMTP sends wait on a relay, whatever the store

    @property
    def page_threads(self) -> int:
        """How many page reads and renders the link handler runs at once, each in a thread.

        The same trade as ``activity_threads``: on SQLite a page's reads and rendering are
        CPU work under the web process's GIL, and 20 sellers' pages at once in 40 threads
        all finish late together; 4 let the first approvals reach Temporal sooner (p99 at
        20 concurrent sellers 290-299 against 313-355 ms, docs/web.md). PostgreSQL reads
        wait on the network, where threads pay.
        """
        if self.web_threads is not None:
            return self.web_threads
        return 4 if self.database_url.startswith("sqlite") else 16


def parse_reminder_days(value: str) -> list[int]:
    """``"3,10"`` -> [3, 10]; refuses what R25's policy cannot mean (ValueError)."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"REQUEST_REMINDER_DAYS must be whole days above 0, not {value!r}")
    days = [int(p) for p in parts]
    if len(days) > MAX_REMINDERS:
        raise ValueError(f"REQUEST_REMINDER_DAYS allows at most {MAX_REMINDERS} reminders")
    if days != sorted(set(days)):
        raise ValueError(f"REQUEST_REMINDER_DAYS must be ascending, not {value!r}")
    return days
