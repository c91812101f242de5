// RivetKit parity, with the unmodified npm client: the seed's /api/rivet
// endpoint, get() of a missing actor, and a refused .connect().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";
import { createClient, ActorError } from "rivetkit/client";

let endpoint, stopServer, actorNames;

before(async () => {
  // Asks the binary for its test actor types (the `guarded` type below) when
  // it has them; a binary without them ignores it.
  process.env.RIVETFLOW_TEST_ACTORS = "1";
  ({ endpoint, stop: stopServer } = await startServer("rivet-flow-rivetkit-parity-"));
  actorNames = (await (await fetch(`${endpoint}/metadata`)).json()).actorNames;
});

after(async () => {
  await stopServer?.();
});

test("a client with the endpoint .../api/rivet works end to end", async () => {
  const meta = await fetch(`${endpoint}/api/rivet/metadata?namespace=default`);
  assert.equal(meta.status, 200);
  const client = createClient({ endpoint: `${endpoint}/api/rivet`, encoding: "json" });
  try {
    const counter = client.counter.getOrCreate(["api-rivet"]);
    assert.equal(await counter.increment(4), 4);
    const conn = counter.connect();
    assert.equal(await conn.increment(1), 5);
    await conn.dispose();
    assert.equal(await client.counter.get(["api-rivet"]).getCount(), 5);
  } finally {
    await client.dispose();
  }
});

test("get() of a missing actor fails with actor/not_found", async (t) => {
  const client = createClient({ endpoint, encoding: "json" });
  try {
    const start = Date.now();
    await assert.rejects(client.counter.get(["never-created"]).getCount(), (err) => {
      assert.ok(err instanceof ActorError, `want ActorError, got ${err}`);
      assert.equal(err.group, "actor");
      assert.equal(err.code, "not_found");
      return true;
    });
    const elapsed = Date.now() - start;
    // rivetkit 2.3.19 retries actor/not_found for a key query (24 x 100 ms)
    // whatever the server, RivetKit's own included: bounded, not instant.
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    t.diagnostic(`get() of a missing actor took ${elapsed} ms`);
  } finally {
    await client.dispose();
  }
});

// Needs an actor type whose OnBeforeConnect refuses {token:"bad"} with the
// user error "forbidden"; the built-in types have no such hook.
test("a refused .connect() surfaces the hook's code", async (t) => {
  if (!actorNames?.guarded) {
    t.skip("no `guarded` actor type in this binary (needs a test fixture with OnBeforeConnect)");
    return;
  }
  const client = createClient({ endpoint, encoding: "json" });
  try {
    const conn = client.guarded.getOrCreate(["refused"], { params: { token: "bad" } }).connect();
    const seen = new Promise((resolve) => conn.onError(resolve));
    const err = await seen;
    assert.ok(err instanceof ActorError, `want ActorError, got ${err}`);
    assert.equal(err.code, "forbidden");
    await conn.dispose();
  } finally {
    await client.dispose();
  }
});
