// Actor queues with the unmodified npm `rivetkit` client against a real
// `rivet-flow serve`: handle.send(name, body, {wait, timeout}) to the
// workflows serve runs by default to show queues (cmd/rivet-flow
// workflowsqueue.go: echo and batcher).
// Run with RIVETFLOW_BIN set to the built binary (make test/rivetkit).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";
import { createClient, ActorError } from "rivetkit/client";

let endpoint, stopServer, client;

before(async () => {
  ({ endpoint, stop: stopServer } = await startServer("rivet-flow-rivetkit-queue-"));
  client = createClient({ endpoint, encoding: "json" });
});

after(async () => {
  await client?.dispose?.();
  await stopServer?.();
});

// The run's status from the native API.
async function runStatus(workflow, runId) {
  const res = await fetch(`${endpoint}/v1/workflows/${workflow}/runs/${runId}`);
  assert.equal(res.status, 200, `GET run ${workflow}/${runId}: ${res.status}`);
  return await res.json();
}

// Polls the run until it is finished.
async function waitFinished(workflow, runId) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const run = await runStatus(workflow, runId);
    if (["completed", "failed", "cancelled"].includes(run.status)) return run;
    assert.ok(Date.now() < deadline, `run ${workflow}/${runId} still ${run.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("send with wait: the run completes the message with its response", async () => {
  // getOrCreate with an input creates the run with it.
  const echo = client.echo.getOrCreate(["e1"], { createWithInput: { tag: "t1" } });
  const first = await echo.send("ask", { q: "hello" }, { wait: true, timeout: 10_000 });
  assert.deepEqual(first, { status: "completed", response: { echo: { q: "hello" }, n: 1, tag: "t1" } });
  const second = await echo.send("ask", [1, 2, 3], { wait: true, timeout: 10_000 });
  assert.deepEqual(second, { status: "completed", response: { echo: [1, 2, 3], n: 2, tag: "t1" } });
});

test("send without wait returns once sent; the run takes the messages in order", async () => {
  const echo = client.echo.getOrCreate(["e2"]);
  assert.equal(await echo.send("ask", "a"), undefined);
  assert.equal(await echo.send("ask", "b"), undefined);
  // The wait on stop returns after a and b were answered, in order.
  const stop = await echo.send("stop", "bye", { wait: true, timeout: 10_000 });
  assert.deepEqual(stop, { status: "completed", response: { echo: "bye", n: 3 } });
  const run = await waitFinished("echo", "e2");
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { answered: 3 });
});

test("send with wait times out when nobody completes the message", async () => {
  const echo = client.echo.getOrCreate(["e3"]);
  // echo takes only ask and stop: a message of later waits in its inbox.
  const started = Date.now();
  const res = await echo.send("later", { x: 1 }, { wait: true, timeout: 300 });
  assert.deepEqual(res, { status: "timedOut" });
  assert.ok(Date.now() - started >= 250, "timed out too early");
  // The run still answers.
  const ok = await echo.send("ask", 1, { wait: true, timeout: 10_000 });
  assert.equal(ok.status, "completed");
  assert.equal(ok.response.n, 1);
});

test("a workflow action enqueues into its own queue; the run takes batches", async () => {
  const batcher = client.batcher.getOrCreate(["b1"]);
  for (const n of [1, 2, 3, 4]) {
    assert.equal(typeof (await batcher.add(n)), "number");
  }
  const closed = await batcher.send("close", null, { wait: true, timeout: 10_000 });
  assert.equal(closed.status, "completed");
  const run = await waitFinished("batcher", "b1");
  assert.equal(run.status, "completed");
  assert.equal(run.result.total, 10);
  assert.equal(run.result.items, 4);
});

test("a finished run refuses messages; a send to an actor without queues is dropped, as RivetKit drops it", async () => {
  await assert.rejects(client.echo.getOrCreate(["e2"]).send("ask", 1, { wait: true, timeout: 1000 }), (err) => {
    assert.ok(err instanceof ActorError, `want ActorError, got ${err}`);
    assert.equal(err.code, "run_finished");
    return true;
  });
  assert.equal(await client.counter.getOrCreate(["q"]).send("ask", 1), undefined);
  const waited = await client.counter.getOrCreate(["q"]).send("ask", 1, { wait: true, timeout: 1000 });
  assert.equal(waited.status, "completed");
});
