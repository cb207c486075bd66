"""A shop-access webhook receiver in Python (docs/webhooks.md): it verifies every POST with
the Standard Webhooks library, in one call, and prints each new event as a JSON line.

    pip install standardwebhooks        # or svix: svix.webhooks.Webhook is the same call
    WEBHOOK_SECRET=whsec_... PORT=9900 python docs/examples/webhook_receiver.py

It answers 204 once an event is handled (here: printed) and 400 to anything not signed
with the secret. A repeat (same ``webhook-id``: a retry, a replay) is answered 204 and not
handled twice. PORT=0 picks a free port; the first line says which.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

HOOK = Webhook(os.environ["WEBHOOK_SECRET"])
SEEN: set[str] = set()  # keep this in your database: at-least-once means repeats


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            # Checks the signature (any of them, during a secret rotation) and that the
            # timestamp is within five minutes; returns the parsed body.
            event = HOOK.verify(body, dict(self.headers))
        except WebhookVerificationError as err:
            print(f"refused: {err}", file=sys.stderr, flush=True)
            self.send_response(400)
        else:
            if event["id"] not in SEEN:
                SEEN.add(event["id"])
                line = {k: event[k] for k in ("id", "type", "actor")}
                print(json.dumps({**line, "entity": event["entity"]["id"]}), flush=True)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "9900"))), Receiver)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
