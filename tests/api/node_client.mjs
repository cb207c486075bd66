// R30: what a JavaScript client sees. Creates an access request through the ops API with
// plain fetch and JSON.parse (no big-number library), reads it back and checks that the
// Business Center id is the one it sent, digit for digit. Prints one JSON line.
//
//   API_URL=http://127.0.0.1:8000/api/v1 API_TOKEN=sa_... BC_ID=7100000000000000001 \
//   SHOP_CODE=GBLINKED01 AS=ana@agency-one.com node tests/api/node_client.mjs
const { API_URL, API_TOKEN, BC_ID, SHOP_CODE, AS } = process.env;
const headers = { Authorization: `Bearer ${API_TOKEN}`, "Content-Type": "application/json" };

async function call(method, path, body) {
  const answer = await fetch(API_URL + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = JSON.parse(await answer.text());
  if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

// The old shape, a JSON number, is what JSON.parse cannot hold: it reads another BC.
const rounded = JSON.parse(`{"bc_id": ${BC_ID}}`).bc_id;

const made = await call("POST", "/requests", { bc_id: BC_ID, shop_code: SHOP_CODE, as: AS });
const read = await call("GET", `/requests/${made.request_id}`);
const listed = await call("GET", `/requests?bc_id=${BC_ID}`);
const mine = listed.requests.find((r) => r.request_id === made.request_id);

const result = {
  request_id: made.request_id,
  read_bc_id: read.bc_id,
  listed_bc_id: mine ? mine.bc_id : null,
  quota_bc_id: listed.quota.bc_id,
  intact: read.bc_id === BC_ID && mine !== undefined && mine.bc_id === BC_ID,
  number_would_read: String(rounded),
};
console.log(JSON.stringify(result));
process.exit(result.intact ? 0 : 1);
