// The unmodified npm `rivetkit` client against a real `rivet-flow serve`.
// Run by .ci/run (and `make test-rivetkit`) with RIVETFLOW_BIN set to the built binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";
import { createClient, ActorError } from "rivetkit/client";

let endpoint, stopServer, client;

before(async () => {
  ({ endpoint, stop: stopServer } = await startServer("rivet-flow-rivetkit-"));
  client = createClient({ endpoint, encoding: "json" });
});

after(async () => {
  await client?.dispose?.();
  await stopServer?.();
});

test("actions over HTTP: getOrCreate + increment", async () => {
  const counter = client.counter.getOrCreate(["http"]);
  assert.equal(await counter.increment(5), 5);
  assert.equal(await counter.increment(2), 7);
  assert.equal(await counter.getCount(), 7);
});

test("user errors arrive as typed ActorError", async () => {
  const room = client.chatRoom.getOrCreate(["errors"]);
  await assert.rejects(room.sendMessage("   "), (err) => {
    assert.ok(err instanceof ActorError, `want ActorError, got ${err}`);
    assert.equal(err.group, "user");
    assert.equal(err.code, "empty_message");
    return true;
  });
  const msg = await room.sendMessage("alice", "hello");
  assert.equal(msg.text, "hello");
  const history = await room.getHistory();
  assert.equal(history.length, 1);
});

test("unknown action is actor/action_not_found", async () => {
  const counter = client.counter.getOrCreate(["unknown"]);
  await assert.rejects(counter.noSuchAction(), (err) => {
    assert.ok(err instanceof ActorError);
    assert.equal(err.code, "action_not_found");
    return true;
  });
});

test("connect: actions over the WebSocket and events", async () => {
  const conn = client.counter.getOrCreate(["ws"]).connect();
  const seen = [];
  const got = new Promise((resolve) => {
    conn.on("newCount", (count) => {
      seen.push(count);
      if (seen.length === 2) resolve();
    });
  });
  assert.equal(await conn.increment(3), 3);
  assert.equal(await conn.increment(4), 7);
  await got;
  assert.deepEqual(seen, [3, 7]);
  await assert.rejects(conn.noSuchAction(), (err) => err instanceof ActorError && err.code === "action_not_found");
  await conn.dispose();
  // The same actor over HTTP sees the WebSocket's actions.
  assert.equal(await client.counter.getOrCreate(["ws"]).getCount(), 7);
});

test("the CBOR encoding: actions, errors and events over a connection", async () => {
  const cborClient = createClient({ endpoint, encoding: "cbor" });
  try {
    const counter = cborClient.counter.getOrCreate(["cbor"]);
    assert.equal(await counter.increment(3), 3);
    assert.deepEqual(await counter.getKey(), ["cbor"]);
    await assert.rejects(cborClient.chatRoom.getOrCreate(["cbor"]).sendMessage(" "), (err) => {
      assert.ok(err instanceof ActorError, `want ActorError, got ${err}`);
      assert.equal(err.code, "empty_message");
      return true;
    });
    const conn = counter.connect();
    const seen = new Promise((resolve) => conn.on("newCount", resolve));
    assert.equal(await conn.increment(4), 7);
    assert.equal(await seen, 7);
    await conn.dispose();
  } finally {
    await cborClient.dispose();
  }
});
