"""Serve the link handler: ``python -m linkhandler``.

Configuration comes from the environment, like the worker's: WEB_HOST, WEB_PORT,
WEB_THREADS, DATABASE_URL, TASK_QUEUE, LINK_BASE_URL, SECRET_KEY (or DEV_MODE=1),
SECRET_KEYS_OLD (earlier keys that still verify), PERSONAL_LINK_ASKS_PER_HOUR, and
Temporal's own TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_TLS_*.
The access log is on, with every token redacted (runtime.log_redaction). /healthz answers
while the process runs; /readyz checks the store, its schema and Temporal (503 with the
reason). Observability: WEB_METRICS (/metrics, on by default), LOG_FORMAT (text or json),
OTEL_* (traces). See docs/operations.md.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from linkhandler.app import create_app
from models.settings import Settings
from runtime.log_redaction import uvicorn_log_config
from runtime.logging_setup import configure_logging, forward_core_logs
from runtime.tracing import setup_tracing


def main(argv: list[str] | None = None) -> None:
    # No options: configuration is the environment. --help shows what it reads.
    argparse.ArgumentParser(
        prog="python -m linkhandler",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        settings = Settings()
    except ValueError as err:
        sys.exit(f"linkhandler: invalid configuration: {err}")
    configure_logging(settings.log_format)
    forward_core_logs(settings.log_format)
    try:
        setup_tracing("shop-access-web")
    except ValueError as err:
        sys.exit(f"linkhandler: invalid configuration: {err}")
    app = create_app(settings)
    print(
        f"Seller link handler on http://{settings.web_host}:{settings.web_port} "
        f"(links point to {settings.link_base_url})",
        flush=True,
    )
    uvicorn.run(
        app,
        host=settings.web_host,
        port=settings.web_port,
        # JSON: uvicorn's loggers propagate to the root handler, which formats and scrubs.
        log_config=uvicorn_log_config(app) if settings.log_format == "text" else None,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
