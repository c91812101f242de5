// The npm rivetkit client's raw seams against a real `rivet-flow serve`:
// handle.fetch (onRequest), handle.webSocket (onWebSocket) and the URL of
// getGatewayUrl(), through the gateway. Uses the built-in rawCounter type
// (GET /count, POST /increment {amount}, an echoing WebSocket).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";
import { createClient } from "rivetkit/client";

let endpoint, stopServer, client;

before(async () => {
  ({ endpoint, stop: stopServer } = await startServer("rivet-flow-rivetkit-raw-"));
  client = createClient({ endpoint, encoding: "json" });
});

after(async () => {
  await client?.dispose?.();
  await stopServer?.();
});

async function json(res, status = 200) {
  const text = await res.text();
  assert.equal(res.status, status, `status ${res.status}, body ${text}`);
  return JSON.parse(text);
}

test("fetch reaches onRequest by key and by actor id", async () => {
  const h = client.rawCounter.getOrCreate(["fetch"]);
  assert.deepEqual(await json(await h.fetch("/count")), { count: 0 });
  const res = await h.fetch("/increment", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ amount: 5 }),
  });
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await json(res), { count: 5 });
  assert.deepEqual(await json(await h.fetch("count")), { count: 5 });
  assert.equal((await h.fetch("/nope")).status, 404);
  // The raw request's state change is what the actions see.
  assert.equal(await h.getCount(), 5);

  const id = await h.resolve();
  const byId = client.rawCounter.getForId(id);
  assert.deepEqual(await json(await byId.fetch("/count?x=1")), { count: 5 });
});

test("getGatewayUrl + /request/... works with plain fetch", async () => {
  const h = client.rawCounter.getOrCreate(["url"]);
  await h.fetch("/increment", { method: "POST" });
  const byId = client.rawCounter.getForId(await h.resolve());
  const idUrl = await byId.getGatewayUrl();
  assert.deepEqual(await json(await fetch(idUrl + "/request/count")), { count: 1 });
  // A key's gateway URL carries its rvt-* query: the path goes before it.
  const keyUrl = new URL(await h.getGatewayUrl());
  keyUrl.pathname += "/request/count";
  assert.deepEqual(await json(await fetch(keyUrl)), { count: 1 });
});

test("webSocket reaches onWebSocket and echoes", async () => {
  const ws = await client.rawCounter.getOrCreate(["ws"]).webSocket("/");
  await new Promise((resolve, reject) => {
    if (ws.readyState === 1) return resolve();
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", (e) => reject(new Error(`websocket error: ${e.message ?? e}`)));
    ws.addEventListener("close", (e) => reject(new Error(`websocket closed: ${e.code} ${e.reason}`)));
  });
  const messages = [];
  const got = new Promise((resolve) => {
    ws.addEventListener("message", (e) => {
      messages.push(e.data);
      if (messages.length === 2) resolve();
    });
  });
  ws.send("hello");
  ws.send(new Uint8Array([1, 2, 3]));
  await got;
  assert.equal(messages[0], "hello");
  assert.deepEqual([...new Uint8Array(messages[1])], [1, 2, 3]);
  const closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  ws.close(1000, "done");
  assert.equal(await closed, 1000);
});

test("a type without raw handlers answers actor/no_request_handler", async () => {
  const res = await client.counter.getOrCreate(["raw"]).fetch("/count");
  const body = await json(res, 404);
  assert.equal(body.group, "actor");
  assert.equal(body.code, "no_request_handler");
});
