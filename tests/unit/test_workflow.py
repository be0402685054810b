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
from lockswap import manifest, paths

WORKFLOW = paths.REPO / ".github" / "workflows" / "lockswap.yml"
INSTALL = "python -m pip install -r ci/requirements.txt"
DISPATCH_INPUTS = {"numpy", "variants", "suite", "bench"}


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
    assert set(on) == {"push", "workflow_dispatch"}
    assert set(on["workflow_dispatch"]["inputs"]) == DISPATCH_INPUTS


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


def test_workflow_and_manifest_agree_on_push_and_on_a_default_dispatch(wf):
    """Every variant, Python and OS of the manifest gets a job on push, and nothing else does."""
    m = manifest.load()
    on = wf.get("on", wf.get(True))
    defaults = {k: str(v["default"]).lower() if isinstance(v["default"], bool) else v["default"]
                for k, v in on["workflow_dispatch"]["inputs"].items()}
    runs = []
    for inputs in ({k: "" for k in DISPATCH_INPUTS}, defaults):  # a push has no inputs
        args = matrix.parser().parse_args(expand_step_args(wf, inputs))
        runs.append(matrix.expand(m, numpy=args.numpy, variants=args.variants, pythons=args.pythons,
                                  os=args.os, suite=args.suite, bench=args.bench))
    push, dispatch = runs
    assert push == dispatch
    assert matrix.coverage_problems(m, push) == []
    assert {c.variant for c in push} == set(m.variants)
    assert {c.python for c in push} == set(m.ci.pythons)


def test_each_job_runs_exactly_the_command_the_matrix_prints(wf):
    (step,) = [s for s in wf["jobs"]["variant"]["steps"] if "ci-local" in s.get("run", "")]
    session, args = nox_call(step)
    assert session == "ci-local"
    assert step["env"]["LOCKSWAP_PYTHON"] == "python${{ matrix.python }}"
    for cell in matrix.expand(manifest.load()):
        fields = {f"${{{{ matrix.{k} }}}}": str(v) for k, v in cell.to_json().items()}
        concrete = [fields.get(a, a) for a in args]
        parsed, again = job.parser().parse_args(concrete), job.parser().parse_args(cell.ci_local_args())
        assert vars(parsed) == vars(again)


def test_artifacts_and_the_final_job(wf):
    uploads = [s["with"]["name"] for _, s in steps(wf) if s.get("uses", "").startswith("actions/upload")]
    assert uploads == ["wheel-${{ matrix.id }}", f"{merge.ARTIFACT_PREFIX}${{{{ matrix.id }}}}", "report"]
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
