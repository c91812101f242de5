// Prints passed/failed per group of the driver test suite from vitest's JSON
// report, and checks it against the list of tests that must pass:
//   node summarize.mjs report.json [encoding] [--expect must-pass.txt] [--write must-pass.txt]
// --expect fails (exit 1) naming every listed test that did not pass, and
// names the tests that pass but are not listed yet (add them with --write).
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const expectFile = flag("--expect");
const writeFile = flag("--write");
const [reportFile, encoding] = args;

const report = JSON.parse(readFileSync(reportFile, "utf8"));
const groups = new Map();
const passedNames = new Set();
const seenNames = new Set();
for (const file of report.testResults) {
  for (const t of file.assertionResults) {
    // ["Driver Tests", "client type (http)", "encoding (json)", "<group>", ...]
    const [, , enc, group = t.title, ...rest] = t.ancestorTitles;
    if (encoding && enc !== `encoding (${encoding})`) continue;
    const name = [group, ...rest, t.title].join(" > ");
    seenNames.add(name);
    const g = groups.get(group) ?? { passed: 0, failed: 0, skipped: 0 };
    if (t.status === "passed") {
      g.passed++;
      passedNames.add(name);
    } else if (t.status === "failed") g.failed++;
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

if (writeFile) {
  // The file's comment lines are kept.
  const header = existsSync(writeFile) ? readFileSync(writeFile, "utf8").split("\n").filter((l) => l.startsWith("#")) : [];
  writeFileSync(writeFile, [...header, ...[...passedNames].sort()].join("\n") + "\n");
  console.log(`wrote ${passedNames.size} passing tests to ${writeFile}`);
}
if (expectFile) {
  const expected = readFileSync(expectFile, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const missing = expected.filter((n) => !passedNames.has(n));
  const extra = [...passedNames].filter((n) => !expected.includes(n)).sort();
  if (extra.length > 0) {
    console.log(`\n${extra.length} tests pass that ${expectFile} does not list yet (node summarize.mjs report.json ${encoding ?? ""} --write ${expectFile}):`);
    for (const n of extra) console.log(`  + ${n}`);
  }
  if (missing.length > 0) {
    console.log(`\nFAIL: ${missing.length} of the ${expected.length} tests ${expectFile} lists did not pass:`);
    for (const n of missing) console.log(`  - ${n}${seenNames.has(n) ? "" : " (not run: renamed or filtered out?)"}`);
    process.exit(1);
  }
  console.log(`\nok: all ${expected.length} tests ${expectFile} lists passed`);
}
