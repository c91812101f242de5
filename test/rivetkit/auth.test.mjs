// The RivetKit client against a server that requires an API token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";
import { createClient } from "rivetkit/client";

const TOKEN = "s3cret-token";
let endpoint, stopServer;

before(async () => {
  ({ endpoint, stop: stopServer } = await startServer("rivet-flow-rivetkit-auth-", ["--api-token", TOKEN]));
});

after(async () => {
  await stopServer?.();
});

test("with the token: HTTP actions and a WebSocket connection work", async () => {
  const client = createClient({ endpoint, encoding: "json", token: TOKEN });
  const counter = client.counter.getOrCreate(["auth"]);
  assert.equal(await counter.increment(1), 1);
  const conn = counter.connect();
  assert.equal(await conn.increment(2), 3);
  await conn.dispose();
  await client.dispose();
});

test("without the token: the server answers 401", async () => {
  const res = await fetch(`${endpoint}/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=auth`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ args: [1] }),
  });
  assert.equal(res.status, 401);
  const meta = await fetch(`${endpoint}/metadata`);
  assert.equal(meta.status, 401);
  const ok = await fetch(`${endpoint}/metadata`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
});
