"""The workflow calls only nox, takes its matrix from ci/matrix.py, and agrees with the manifest."""

from __future__ import annotations

import ast
import itertools
import re
import shlex
from pathlib import Path

import pytest
import yaml

from ci import actionlint, job, matrix, merge
from lockswap.base import manifest, paths

WORKFLOW = paths.REPO / ".github" / "workflows" / "lockswap.yml"
INSTALL = "python -m pip install -r ci/requirements.txt"
DISPATCH_INPUTS = {"numpy", "variants", "suite", "bench", "unsupported", "os"}
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
    # a pushed branch with a pull request runs once (as the pull request); a branch filter alone
    # means tags run nothing
    assert on["push"]["branches"] == ["main"]
    assert not {"tags", "tags-ignore", "branches-ignore"} & set(on["push"])
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
    assert called == {"matrix", "ci-local", "ci-merge", "report", "crosscheck"}


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
    (step,) = [s for s in wf["jobs"]["variant"]["steps"] if "ci-local -- --variant" in s.get("run", "")]
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
    variant_steps = wf["jobs"]["variant"]["steps"]
    gather = variant_steps[variant_steps.index(logs) - 1]  # the logs are copied into one folder first
    assert gather["if"] == "${{ failure() }}"
    session, args = nox_call(gather)
    assert session == "ci-local" and args[0] == "--collect-logs"
    assert logs["with"]["path"].strip() == args[1].rstrip("/") + "/"


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


def test_every_upload_has_one_root_inside_the_workspace(wf):
    """upload-artifact refuses paths without a common root (a home folder path next to results/)."""
    uploads = [s for _, s in steps(wf) if s.get("uses", "").startswith("actions/upload")]
    for step in uploads:
        items = step["with"]["path"].split()
        for item in items:
            assert not item.startswith(("/", "~", "$")) and "${{" not in item and ".." not in item, item
        assert len({item.split("/")[0] for item in items}) == 1, items


def test_the_logs_folder_gets_the_cache_logs_meson_logs_and_test_logs(tmp_path, monkeypatch):
    cache, results = tmp_path / "cache", tmp_path / "results"
    monkeypatch.setenv("LOCKSWAP_CACHE", str(cache))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(results))
    made = {cache / "logs" / "build-numpy-2.1.3-rwlock-k.log": "cache-logs/build-numpy-2.1.3-rwlock-k.log",
            cache / "build" / "slot1" / "build" / "meson-logs" / "meson-log.txt": "meson/slot1/meson-log.txt",
            results / "test-2.1.3-3.13t-rwlock-quick.log": "results/test-2.1.3-3.13t-rwlock-quick.log"}
    for src in made:
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(src.name)
    (results / "bench.json").write_text("{}")  # results/ itself is its own artifact
    assert job.main(["--collect-logs", str(tmp_path / "ci-logs")]) == 0
    got = {str(p.relative_to(tmp_path / "ci-logs")) for p in (tmp_path / "ci-logs").rglob("*") if p.is_file()}
    assert got == set(made.values())
    with pytest.raises(SystemExit):
        job.main([])  # a job needs its variant


def test_every_job_runs_on_a_pinned_image(wf):
    """``*-latest`` moves under the workflow (ubuntu-latest became 26.04); jobs name their image."""
    linux = [label for label in manifest.load().ci.os if manifest.os_family(label) == matrix.LINUX]
    assert linux
    for name, j in wf["jobs"].items():
        assert j["runs-on"] == "${{ matrix.os }}" or j["runs-on"] in linux, (name, j["runs-on"])
        assert "latest" not in j["runs-on"]


def test_ccache_is_saved_by_every_run_and_restored_by_prefix(wf):
    """An exact key hit is never saved again: the key ends with the run, restore-keys are prefixes."""
    variant_steps = wf["jobs"]["variant"]["steps"]
    (ft,) = [s for s in variant_steps if s.get("id") == "ft-python"]
    assert ft["with"]["python-version"] == "${{ matrix.python }}"
    (cache,) = [s for s in variant_steps if s.get("uses", "").startswith("actions/cache")
                and "ccache" in s["with"]["path"]]
    key = cache["with"]["key"]
    for part in ("${{ runner.os }}", "${{ matrix.python }}", "${{ matrix.numpy }}",
                 "${{ steps.ft-python.outputs.python-version }}", "${{ github.run_id }}"):
        assert part in key, part
    prefixes = cache["with"]["restore-keys"].splitlines()
    assert prefixes and all(key.startswith(p) and p.endswith("-") and "github.run_id" not in p
                            for p in prefixes)


def test_every_upload_expires(wf):
    """Artifacts otherwise keep 90 days (over a GB per weekly run): each upload says how long."""
    uploads = {s["with"]["name"]: s["with"] for _, s in steps(wf)
               if s.get("uses", "").startswith("actions/upload")}
    for name, w in uploads.items():
        assert isinstance(w.get("retention-days"), int) and 1 <= w["retention-days"] <= 90, name
    assert uploads["wheel-${{ matrix.id }}"]["retention-days"] <= 14
    assert uploads["logs-${{ matrix.id }}"]["retention-days"] <= 14


def test_a_manual_run_can_choose_the_os(wf):
    on = wf.get("on", wf.get(True))
    defaults = {k: str(v["default"]).lower() if isinstance(v["default"], bool) else v["default"]
                for k, v in on["workflow_dispatch"]["inputs"].items()}
    assert defaults["os"] == ""
    windows = workflow_matrix(wf, "workflow_dispatch", {**defaults, "os": "windows"})
    assert windows and {c.os for c in windows} == {"windows-2022"}
    assert {c.os for c in workflow_matrix(wf, "workflow_dispatch", defaults)} == set(manifest.load().ci.os)


def test_actionlint_drops_only_unknown_label_findings_for_labels_lockswap_knows():
    out = ('w.yml:66:14: label "ubuntu-24.04" is unknown. available labels are "x" [runner-label]\n'
           'w.yml:70:14: label "ubuntu-99.04" is unknown. available labels are "x" [runner-label]\n'
           'w.yml:80:9: property "foo" is not defined [expression]\n'
           "actionlint: 3 finding(s) in 1 file(s)\n")
    findings, dropped = actionlint.findings_of(out)
    assert dropped == 1 and len(findings) == 2
    assert "ubuntu-99.04" in findings[0] and "[expression]" in findings[1]
