"""End to end: the workflow's report job, on the real output of one CI job.

One cell of the matrix runs as its CI job does (``nox -s ci-local`` with the cell's own arguments,
a quick suite and a quick benchmark on workers 1 and 2), in a copy of this checkout. Its
``results/`` is then laid out the way download-artifact hands a run's only ``results-*`` artifact to
the report job (extracted without its folder), and the report job's ``run:`` steps are read from
the workflow file and run as they are, with the step's ``env:``. The report must name the job's
test verdict and its scaling table, within GitHub's summary cap.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci import job, matrix, merge

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "lockswap.yml"
INSTALL = "python -m pip install -r ci/requirements.txt"
CELL = matrix.Cell("rwlock", "2.1.3", "3.13t", "ubuntu-24.04", "quick", "quick", "1,2")


def checkout_copy(dest: Path) -> Path:
    """The files of this checkout (tracked and new, not ignored): what actions/checkout gives a job."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def report_job_steps() -> list[tuple[str, dict[str, str]]]:
    """(script, env) of every ``run:`` step of the report job after the pip install."""
    report = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["report"]
    return [(s["run"], {k: str(v) for k, v in s.get("env", {}).items()})
            for s in report["steps"] if "run" in s and s["run"] != INSTALL]


def resolve(value: str, context: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in context:
            pytest.fail(f"the report job uses ${{{{ {m.group(1)} }}}}, which this test does not provide")
        return context[m.group(1)]

    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", sub, value)


def run(script: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    print(f"$ {script}")
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, check=False)
    print(done.stdout)
    return done


@pytest.mark.e2e
def test_the_report_job_renders_a_real_ci_local_job(tmp_path):
    try:
        import nox  # noqa: F401
    except ImportError:
        pytest.fail("nox must be importable by the test interpreter (it is in the [test] extra)")
    work = checkout_copy(tmp_path / "checkout")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)  # the workflow's `python`: has nox
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCKSWAP_DIST", "LOCKSWAP_RESULTS", "LOCKSWAP_MANIFEST", "PYTHON_GIL",
                        "GITHUB_STEP_SUMMARY", "VIRTUAL_ENV")}
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"

    # The CI job of the cell, as the workflow's variant job runs it (LOCKSWAP_CI_JOB included).
    cell_run = run(f"python -m nox -s ci-local -- {shlex.join(CELL.ci_local_args())}", work,
                   {**env, job.JOB_ENV: CELL.id}, timeout=5400)
    assert cell_run.returncode == 0, cell_run.stdout[-3000:]
    results = work / "results"
    assert sorted(p.name for p in results.glob("test-*.json")), "ci-local wrote no test verdict"
    assert list(results.glob("bench-*.json")), "ci-local wrote no benchmark result"

    # A run with one results-* artifact: download-artifact extracts it into `artifacts/` directly.
    shutil.copytree(results, work / "artifacts")
    summary = tmp_path / "step-summary.md"
    context = {"needs.matrix.outputs.matrix": matrix.to_github([CELL])}
    for script, step_env in report_job_steps():
        done = run(script, work, {**env, **{k: resolve(v, context) for k, v in step_env.items()},
                                  "GITHUB_STEP_SUMMARY": str(summary)}, timeout=1800)
        assert done.returncode == 0, f"report job step failed: {script}\n{done.stdout[-3000:]}"

    merged = sorted(p.name for p in (work / "merged").glob("*.json"))
    assert merged and all(name.startswith(f"{CELL.id}--") for name in merged)
    page = summary.read_text(encoding="utf-8")
    print(page)
    assert "1 of 1 jobs delivered results" in page
    assert len(page.encode()) < merge.SUMMARY_CAP
    assert "`report` artifact" in page
    assert "rwlock" in page
    assert re.search(r"verdict", page, re.I), "the summary names no test verdict"
    assert re.search(r"as baseline|pass", page, re.I), "the summary shows no verdict value"
    assert re.search(r"t1\s*/\s*t\d|efficiency|speedup|scaling", page, re.I), "no scaling table"
    assert list((work / "report").rglob("*.md"))
