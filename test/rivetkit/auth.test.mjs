// The RivetKit client against a server that requires an API token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient } from "rivetkit/client";

const bin = process.env.RIVETFLOW_BIN;
if (!bin) throw new Error("set RIVETFLOW_BIN to the rivet-flow binary (make test-rivetkit does)");
const TOKEN = "s3cret-token";
let server, endpoint, dataDir;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rivet-flow-rivetkit-auth-"));
  server = spawn(bin, ["serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--log-format", "json", "--api-token", TOKEN], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("rivet-flow not ready in 30s")), 30_000);
    createInterface({ input: server.stderr }).on("line", (line) => {
      try {
        const rec = JSON.parse(line);
        if (rec.msg === "rivet-flow ready") {
          clearTimeout(timer);
          resolve(rec.http);
        }
      } catch {}
    });
    server.on("exit", (code) => reject(new Error(`rivet-flow exited with ${code}`)));
  });
});

after(async () => {
  server?.kill("SIGTERM");
  await new Promise((r) => server?.on("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
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
