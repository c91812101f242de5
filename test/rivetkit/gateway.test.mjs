// The unmodified npm `rivetkit` client against a real `rivet-flow serve`.
// Run by .ci/run (and `make test-rivetkit`) with RIVETFLOW_BIN set to the built binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient, ActorError } from "rivetkit/client";

const bin = process.env.RIVETFLOW_BIN;
if (!bin) throw new Error("set RIVETFLOW_BIN to the rivet-flow binary (make test-rivetkit does)");

let server, endpoint, dataDir, client;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rivet-flow-rivetkit-"));
  server = spawn(bin, ["serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--log-format", "json"], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  endpoint = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stderr });
    const timer = setTimeout(() => reject(new Error("rivet-flow not ready in 30s")), 30_000);
    lines.on("line", (line) => {
      try {
        const rec = JSON.parse(line);
        if (rec.msg === "rivet-flow ready") {
          clearTimeout(timer);
          resolve(rec.http);
        }
      } catch {
        process.stderr.write(line + "\n");
      }
    });
    server.on("exit", (code) => reject(new Error(`rivet-flow exited with ${code}`)));
  });
  client = createClient({ endpoint, encoding: "json" });
});

after(async () => {
  await client?.dispose?.();
  server?.kill("SIGTERM");
  await new Promise((r) => server?.on("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
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
