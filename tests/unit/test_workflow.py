"""The workflow calls only nox, takes its matrix from ci/matrix.py, and agrees with the manifest."""

from __future__ import annotations

import ast
import itertools
import re
import shlex
from pathlib import Path

import pytest
import yaml

from ci import job, matrix, merge
from lockswap.base import manifest, paths

WORKFLOW = paths.REPO / ".github" / "workflows" / "lockswap.yml"
INSTALL = "python -m pip install -r ci/requirements.txt"
DISPATCH_INPUTS = {"numpy", "variants", "suite", "bench", "unsupported"}
# The Node 24 majors (first release running on node24) of the actions whose older majors run Node 20.
NODE24 = {"actions/checkout": 5, "actions/setup-python": 6, "actions/cache": 5,
          "actions/upload-artifact": 6, "actions/download-artifact": 7}


@pytest.fixture(scope="module")
def wf() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(wf):
    for name, j in wf["jobs"].items():
        for step in j["steps"]:
            yield name, step


def nox_sessions() -> set[str]:
    """Session names the noxfile defines with @nox.session (per-variant ones are not called by CI)."""
    names = set()
    for node in ast.walk(ast.parse((paths.REPO / "noxfile.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                text = ast.unparse(deco)
                if text.startswith("nox.session"):
                    m = re.search(r"name=['\"]([^'\"]+)", text)
                    names.add(m.group(1) if m else node.name)
    return names


def nox_call(step) -> tuple[str, list[str]]:
    """``python -m nox -s NAME -- ARGS`` -> (NAME, ARGS with $VARS replaced by their env expressions)."""
    words = shlex.split(step["run"])
    assert words[:4] == ["python", "-m", "nox", "-s"] and (len(words) == 5 or words[5] == "--"), step["run"]
    env = step.get("env", {})
    return words[4], [env.get(w[1:], w) if w.startswith("$") else w for w in words[6:]]


def test_triggers_and_dispatch_inputs(wf):
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert set(on) == {"push", "pull_request", "schedule", "workflow_dispatch"}
    assert set(on["workflow_dispatch"]["inputs"]) == DISPATCH_INPUTS
    for event in ("push", "pull_request"):  # docs-only changes run nothing
        assert set(on[event]["paths-ignore"]) == {"**.md", "docs/**"}
    (cron,) = on["schedule"]
    assert re.fullmatch(r"\d+ \d+ \* \* \d", cron["cron"])  # weekly


def test_a_manual_run_is_never_cancelled_by_another_run(wf):
    group, cancel = wf["concurrency"]["group"], wf["concurrency"]["cancel-in-progress"]
    smoke = "contains(fromJSON('[\"push\",\"pull_request\"]'), github.event_name)"
    assert group.endswith(f"{smoke} && github.ref || github.run_id }}}}")  # manual: a group of its own
    assert cancel == f"${{{{ {smoke} }}}}"


def test_jobs_only_install_nox_and_call_nox(wf):
    defined = nox_sessions()
    assert {"tests", "bench", "report", "matrix", "ci-local", "ci-merge"} <= defined  # the parser works
    called = set()
    for _, step in steps(wf):
        if "run" in step:
            if step["run"] == INSTALL:
                continue
            session, _ = nox_call(step)
            assert session in defined, f"{session} is not a nox session"
            called.add(session)
        else:
            assert step["uses"].split("@")[0] in {
                "actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-artifact",
                "actions/download-artifact",
            }
    assert called == {"matrix", "ci-local", "ci-merge", "report"}


def test_actions_are_pinned_by_commit_with_version_and_permissions_are_least(wf):
    uses = re.findall(r"uses: (\S+)(.*)", WORKFLOW.read_text(encoding="utf-8"))
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), comment
        assert int(comment.split("v")[1].split(".")[0]) >= NODE24[ref.split("@")[0]], (ref, comment)
    assert wf["permissions"] == {}
    for j in wf["jobs"].values():
        assert j["permissions"] == {"contents": "read"}
    for _, step in steps(wf):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_no_expression_is_expanded_inside_a_script(wf):
    for _, step in steps(wf):
        assert "${{" not in step.get("run", ""), step["run"]


def test_the_matrix_comes_from_the_expansion_job(wf):
    expand_job = wf["jobs"]["matrix"]
    (expand,) = [s for s in expand_job["steps"] if s.get("id") == "expand"]
    session, args = nox_call(expand)
    assert session == "matrix" and "--github-output" in args
    assert expand_job["outputs"]["matrix"] == "${{ steps.expand.outputs.matrix }}"
    cells_job = wf["jobs"]["variant"]
    assert cells_job["needs"] == "matrix"
    assert cells_job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert cells_job["runs-on"] == "${{ matrix.os }}"
    assert not re.search(r"\b(baseline|ubuntu-24\.04|macos-14|windows-2022|3\.1[34]t)\b",
                         yaml.safe_dump(cells_job["strategy"]))


def expand_step_args(wf, inputs: dict[str, str]) -> list[str]:
    """The matrix step's arguments with ``${{ inputs.X }}`` replaced by ``inputs[X]``."""
    (expand,) = [s for s in wf["jobs"]["matrix"]["steps"] if s.get("id") == "expand"]
    _, args = nox_call(expand)
    out = []
    for arg in args:
        m = re.fullmatch(r"\$\{\{ inputs\.(\w+) \}\}", arg)
        out.append(inputs[m.group(1)] if m else arg)
    return out


def test_each_dispatch_input_feeds_the_matrix_option_of_its_name(wf):
    (expand,) = [s for s in wf["jobs"]["matrix"]["steps"] if s.get("id") == "expand"]
    _, args = nox_call(expand)
    fed = {}
    for option, value in itertools.pairwise(args):
        m = re.fullmatch(r"\$\{\{ inputs\.(\w+) \}\}", value)
        if m:
            fed[m.group(1)] = option
    assert fed == {name: f"--{name}" for name in DISPATCH_INPUTS}
    known = {a for action in matrix.parser()._actions for a in action.option_strings}
    assert set(fed.values()) <= known


def workflow_matrix(wf, event: str, inputs: dict[str, str]) -> list[matrix.Cell]:
    """The matrix the expansion step computes for ``event`` with these dispatch inputs."""
    args = expand_step_args(wf, inputs)
    args = [event if a == "${{ github.event_name }}" else a for a in args]
    ns = matrix.parser().parse_args(args)
    return matrix.expand(manifest.load(), event=ns.event, numpy=ns.numpy, variants=ns.variants,
                         pythons=ns.pythons, os=ns.os, suite=ns.suite, bench=ns.bench,
                         unsupported=ns.unsupported)


def test_push_schedule_and_a_default_dispatch_get_the_matrices_the_issue_asks_for(wf):
    """Push: Linux smoke of every variant; schedule = default manual run: the full trimmed matrix."""
    m = manifest.load()
    on = wf.get("on", wf.get(True))
    defaults = {k: str(v["default"]).lower() if isinstance(v["default"], bool) else v["default"]
                for k, v in on["workflow_dispatch"]["inputs"].items()}
    no_inputs = {k: "" for k in DISPATCH_INPUTS}  # push and schedule have no inputs
    push = workflow_matrix(wf, "push", no_inputs)
    assert push == workflow_matrix(wf, "pull_request", no_inputs) == matrix.expand(m)
    assert len(push) <= 12 and {c.os for c in push} == {"ubuntu-24.04"}
    assert matrix.coverage_problems(m, push) == []
    assert {c.variant for c in push} == set(m.variants) - {"baseline"}
    assert {c.python for c in push} == set(m.ci.pythons)
    assert {c.bench for c in push} == {"quick"}
    scheduled = workflow_matrix(wf, "schedule", no_inputs)
    assert scheduled == workflow_matrix(wf, "workflow_dispatch", defaults)
    assert matrix.coverage_problems(m, scheduled, every_os=True) == []
    assert "baseline" not in {c.variant for c in scheduled}
    assert all(c.python in m.numpy[c.numpy].upstream_pythons for c in scheduled)
    wider = workflow_matrix(wf, "workflow_dispatch", {**defaults, "unsupported": "true"})
    assert any(c.python not in m.numpy[c.numpy].upstream_pythons for c in wider)


def test_each_job_runs_exactly_the_command_the_matrix_prints(wf):
    (step,) = [s for s in wf["jobs"]["variant"]["steps"] if "ci-local" in s.get("run", "")]
    session, args = nox_call(step)
    assert session == "ci-local"
    assert step["env"]["LOCKSWAP_PYTHON"] == "python${{ matrix.python }}"
    assert step["env"][job.JOB_ENV] == "${{ matrix.id }}"  # names the artifact's job (ci-job.txt)
    m = manifest.load()
    for cell in [*matrix.expand(m), *matrix.expand(m, event="schedule", bench="off")]:
        fields = {f"${{{{ matrix.{k} }}}}": str(v) for k, v in cell.to_json().items()}
        concrete = [fields.get(a, a) for a in args]
        parsed, again = job.parser().parse_args(concrete), job.parser().parse_args(cell.ci_local_args())
        assert job.resolve_cell(parsed) == job.resolve_cell(again)
        assert parsed.workers == again.workers or (cell.bench == "off" and not parsed.workers)


def test_artifacts_and_the_final_job(wf):
    uploads = [s for _, s in steps(wf) if s.get("uses", "").startswith("actions/upload")]
    assert [s["with"]["name"] for s in uploads] == [
        "wheel-${{ matrix.id }}", f"{merge.ARTIFACT_PREFIX}${{{{ matrix.id }}}}", "logs-${{ matrix.id }}",
        merge.REPORT_ARTIFACT]
    assert all(s["with"]["overwrite"] is True for s in uploads)  # a re-run of a job must not hit 409
    logs = uploads[2]
    assert logs["if"] == "${{ failure() }}"
    assert {"logs/", "meson-log.txt", "results/*.log"} <= {
        p.rsplit("/", 1)[-1] if p.endswith(".txt") else ("logs/" if p.endswith("/logs/") else p)
        for p in logs["with"]["path"].split()}


def test_no_ccache_folder_is_cached_for_msvc(wf):
    caches = [s for s in wf["jobs"]["variant"]["steps"] if s.get("uses", "").startswith("actions/cache")
              and "ccache" in s["with"]["path"]]
    assert [s.get("if") for s in caches] == ["${{ runner.os != 'Windows' }}"]
    final = wf["jobs"]["report"]
    assert set(final["needs"]) == {"matrix", "variant"}
    (download,) = [s for s in final["steps"] if s.get("uses", "").startswith("actions/download")]
    assert download["with"]["pattern"] == f"{merge.ARTIFACT_PREFIX}*"
    calls = [nox_call(s) for s in final["steps"] if "run" in s and s["run"] != INSTALL]
    assert [(name, args[:1]) for name, args in calls] == [
        ("ci-merge", ["collect"]), ("report", ["merged/*.json"]), ("ci-merge", ["publish"])]


def test_ci_requirements_are_pinned():
    lines = [ln for ln in Path(paths.REPO / "ci" / "requirements.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9-]+==[\w.]+", ln) for ln in lines)
