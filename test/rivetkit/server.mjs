// Starts a real `rivet-flow serve` for the client tests: a fresh data dir,
// a random loopback port, ready when it logs "rivet-flow ready".
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const bin = process.env.RIVETFLOW_BIN;
if (!bin) throw new Error("set RIVETFLOW_BIN to the rivet-flow binary (make test/rivetkit does)");

// startServer returns {endpoint, stop}; stop sends SIGTERM, waits for the
// exit and removes the data dir.
export async function startServer(prefix = "rivet-flow-rivetkit-", extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const server = spawn(bin, ["serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--log-format", "json", ...extraArgs], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  const endpoint = await new Promise((resolve, reject) => {
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
  const stop = async () => {
    server.kill("SIGTERM");
    await new Promise((r) => server.on("exit", r));
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { endpoint, stop };
}
