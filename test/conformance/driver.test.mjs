// RivetKit's driver test suite against the real rivet-flow binary. One
// `rivet-flow serve --registry conformance` serves the run; each test gets a
// namespace of its own (rvt-namespace / ?namespace=), which the gateway keeps
// apart. Groups rivet-flow does not serve are skipped here (see README.md).
import { runDriverTests } from "rivetkit/driver-test-suite";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { randomUUID } from "node:crypto";
import { afterAll } from "vitest";

const bin = process.env.RIVETFLOW_BIN;
if (!bin) throw new Error("set RIVETFLOW_BIN to the rivet-flow binary (make conformance does)");

const dataDir = mkdtempSync(join(tmpdir(), "rivet-flow-conformance-"));
const server = spawn(bin, ["serve", "--registry", "conformance", "--data-dir", dataDir,
  "--http-addr", "127.0.0.1:0", "--inspector-token", "token", "--log-format", "json", "--actor-sweep-interval", "50ms", "--log-level", process.env.RIVETFLOW_LOG_LEVEL ?? "info"], {
  stdio: ["ignore", "ignore", "pipe"],
});
const endpoint = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("rivet-flow not ready in 30s")), 30_000);
  createInterface({ input: server.stderr }).on("line", (line) => {
    try {
      const rec = JSON.parse(line);
      if (rec.msg === "rivet-flow ready") {
        clearTimeout(timer);
        resolve(rec.http);
      } else if (rec.level === "ERROR") {
        process.stderr.write(line + "\n");
      }
    } catch {
      process.stderr.write(line + "\n");
    }
  });
  server.on("exit", (code) => reject(new Error(`rivet-flow exited with ${code}`)));
});

afterAll(async () => {
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
});

runDriverTests({
  useRealTimers: true,
  // inline: an in-process client of the JS runtime; sandbox, agentOs: need
  // Docker and agentOS; hibernation: WebSocket hibernation is RivetKit's
  // engine feature. See README.md for every group left out and why.
  skip: { inline: true, sandbox: true, agentOs: true, hibernation: true },
  async start() {
    return { endpoint, namespace: `t-${randomUUID()}`, runnerName: "default", cleanup: async () => {} };
  },
});
