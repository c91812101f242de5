// Prints passed/failed per group of the driver test suite from vitest's JSON
// report: node summarize.mjs report.json [encoding]
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const encoding = process.argv[3];
const groups = new Map();
for (const file of report.testResults) {
  for (const t of file.assertionResults) {
    // ["Driver Tests", "client type (http)", "encoding (json)", "<group>", ...]
    const [, , enc, group = t.title] = t.ancestorTitles;
    if (encoding && enc !== `encoding (${encoding})`) continue;
    const g = groups.get(group) ?? { passed: 0, failed: 0, skipped: 0 };
    if (t.status === "passed") g.passed++;
    else if (t.status === "failed") g.failed++;
    else g.skipped++;
    groups.set(group, g);
  }
}
let passed = 0, failed = 0;
console.log("passed failed  group");
for (const [name, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
  if (g.passed + g.failed === 0) continue;
  console.log(`${String(g.passed).padStart(6)} ${String(g.failed).padStart(6)}  ${name}`);
  passed += g.passed;
  failed += g.failed;
}
console.log(`${passed} passed, ${failed} failed${encoding ? ` (encoding ${encoding})` : ""}`);
