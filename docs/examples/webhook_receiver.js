// A shop-access webhook receiver in Node.js (docs/webhooks.md): it verifies every POST
// with the Standard Webhooks library, in one call, and prints each new event as a JSON
// line.
//
//     npm install standardwebhooks
//     WEBHOOK_SECRET=whsec_... PORT=9900 node docs/examples/webhook_receiver.js
//
// It answers 204 once an event is handled (here: printed) and 400 to anything not signed
// with the secret. A repeat (same webhook-id: a retry, a replay) is answered 204 and not
// handled twice. PORT=0 picks a free port; the first line says which.
"use strict";
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const hook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // keep this in your database: at-least-once means repeats

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let event;
    try {
      // The raw bytes, as received: checks the signature (any of them, during a secret
      // rotation) and that the timestamp is within five minutes; returns the parsed body.
      event = hook.verify(Buffer.concat(chunks), req.headers);
    } catch (err) {
      console.error(`refused: ${err.message}`);
      res.writeHead(400).end();
      return;
    }
    if (!seen.has(event.id)) {
      seen.add(event.id);
      const { id, type, actor } = event;
      console.log(JSON.stringify({ id, type, actor, entity: event.entity.id }));
    }
    res.writeHead(204).end();
  });
});

server.listen(Number(process.env.PORT ?? 9900), "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
