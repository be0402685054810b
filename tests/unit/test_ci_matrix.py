from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.version import Version

from ci import entry as ci_entry
from ci import matrix, runners
from lockswap.base import manifest
from lockswap.base.errors import ConfigError

TOML = """
schema = 1
default_numpy = "2.1.3"
[numpy."2.1.3"]
pythons = ["3.13t"]
[numpy."2.5.5"]
pythons = ["3.13t", "3.14t"]
upstream_pythons = ["3.14t"]
[variants.baseline]
description = "as released"
[variants.old]
description = "only for 2.1.3"
patches = { "2.1.3" = "p/old.patch" }
[variants.new]
description = "only for 2.5.5"
patches = { "2.5.5" = "p/new.patch" }
[ci]
pythons = ["3.13t", "3.14t"]
os = ["ubuntu-24.04", "macos-15", "windows-2022"]
"""


def load(tmp_path: Path, ci_extra: str = "") -> manifest.Manifest:
    (tmp_path / "p").mkdir(exist_ok=True)
    for name in ("old", "new"):
        (tmp_path / "p" / f"{name}.patch").write_text("Description: x\n")
    path = tmp_path / "manifest.toml"
    path.write_text(TOML + ci_extra)
    return manifest.load(path)


def ids(cells):
    return {(c.variant, c.numpy, c.python, c.os) for c in cells}


OSES = ("ubuntu-24.04", "macos-15", "windows-2022")


def test_push_is_a_linux_smoke_run_of_every_patched_variant(tmp_path):
    m = load(tmp_path)  # [ci] numpy defaults to default_numpy = 2.1.3 (3.13t only)
    cells = matrix.expand(m)
    assert ids(cells) == {("old", "2.1.3", "3.13t", "ubuntu-24.04")}  # no stand-alone baseline
    assert {(c.suite, c.bench, c.workers) for c in cells} == {("quick", "quick", "1,2,4")}
    assert matrix.expand(m, event="pull_request") == cells


def test_schedule_is_every_patch_on_every_os_and_upstream_python(tmp_path):
    m = load(tmp_path)
    cells = matrix.expand(m, event="schedule")
    assert ids(cells) == {("old", "2.1.3", "3.13t", o) for o in OSES} | {
        ("new", "2.5.5", "3.14t", o) for o in OSES}  # 2.5.5 on 3.13t: lockswap builds it, NumPy does not
    assert {c.bench for c in cells} == {"on"}
    assert {(c.os, c.workers) for c in cells if c.variant == "new"} == {
        ("ubuntu-24.04", "1,2,4"), ("macos-15", "1,2,3"), ("windows-2022", "1,2,4")}
    assert matrix.expand(m, event="workflow_dispatch") == cells
    more = matrix.expand(m, event="workflow_dispatch", unsupported="true", variants="new,baseline")
    assert ("new", "2.5.5", "3.13t", "macos-15") in ids(more)
    assert ("baseline", "2.1.3", "3.13t", "windows-2022") in ids(more)  # named: gets its own jobs


def test_coverage_names_what_the_push_matrix_forgets(tmp_path):
    m = load(tmp_path)
    problems = matrix.coverage_problems(m, matrix.expand(m))
    assert any("'new' gets no CI job" in p and "2.5.5" in p for p in problems)
    assert any("python '3.14t' gets no CI job" in p for p in problems)
    assert len(problems) == 2


def test_coverage_is_complete_when_ci_numpy_reaches_every_variant(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n')
    cells = matrix.expand(m)
    assert matrix.coverage_problems(m, cells) == []
    assert ids(cells) == {("old", "2.1.3", "3.13t", "ubuntu-24.04"),
                          ("new", "2.5.5", "3.14t", "ubuntu-24.04")}
    full = matrix.expand(m, event="schedule")
    assert matrix.coverage_problems(m, full, every_os=True) == []
    assert matrix.coverage_problems(m, cells, every_os=True)  # push is Linux only


def test_the_push_matrix_is_capped_keeping_every_variant(tmp_path, monkeypatch):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n')
    monkeypatch.setattr(matrix, "MAX_PUSH_JOBS", 1)
    assert {c.variant for c in matrix.expand(m)} == {"old", "new"}  # one each, over the cap


def test_coverage_flags_cells_the_manifest_does_not_declare(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n')
    stray = matrix.Cell("ghost", "2.1.3", "3.12t", "freebsd-14", "quick", "on")
    problems = matrix.coverage_problems(m, [*matrix.expand(m), stray])
    assert any("'ghost'" in p for p in problems)
    assert any("'3.12t'" in p for p in problems) and any("'freebsd-14'" in p for p in problems)


def test_exclusions_match_on_all_their_keys_and_os_families(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\nexclude = [{ variant = "new", os = "windows" },'
                       ' { numpy = "2.1.3", python = "3.13t", os = "macos-15" }]\n')
    cells = ids(matrix.expand(m, event="schedule", variants="old,new,baseline"))
    assert not any(v == "new" and o == "windows-2022" for v, _, _, o in cells)
    assert ("new", "2.5.5", "3.14t", "ubuntu-24.04") in cells
    assert not any(n == "2.1.3" and o == "macos-15" for _, n, _, o in cells)
    assert ("baseline", "2.5.5", "3.14t", "macos-15") in cells
    assert ("baseline", "2.1.3", "3.13t", "ubuntu-24.04") in cells


def test_an_exclusion_that_removes_a_variant_shows_in_coverage(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\nexclude = [{ variant = "new" }]\n')
    assert any("'new' gets no CI job" in p for p in matrix.coverage_problems(m, matrix.expand(m)))


def test_filters(tmp_path):
    m = load(tmp_path)
    cells = matrix.expand(m, event="workflow_dispatch", numpy="all", variants="new, baseline",
                          pythons="3.14t", os="ubuntu")
    assert ids(cells) == {("baseline", "2.5.5", "3.14t", "ubuntu-24.04"),
                          ("new", "2.5.5", "3.14t", "ubuntu-24.04")}
    assert len(matrix.expand(m, event="schedule", numpy="2.5.5", variants="new,baseline",
                             unsupported="on")) == 2 * 2 * 3  # baseline+new x 2 Pythons x 3 OS
    assert {c.variant for c in matrix.expand(m, event="schedule", variants="all")} == {"old", "new"}


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"numpy": "9.9"}, "NumPy 9.9 is not in"),
        ({"variants": "rwlok"}, "unknown variant 'rwlok'"),
        ({"variants": "new"}, "'new' has no job for NumPy 2.1.3"),
        ({"pythons": "3.12t"}, "unknown Python 3.12t"),
        ({"os": "freebsd"}, "unknown OS freebsd"),
        ({"suite": "rm -rf /"}, "bad suite name"),
        ({"bench": "maybe"}, "not a yes/no value"),
        ({"unsupported": "perhaps"}, "not a yes/no value"),
        ({"event": "release"}, "unknown event 'release'"),
        ({"numpy": "2.1.3", "pythons": "3.14t"}, "leave no job"),
    ],
)
def test_bad_filters_are_refused_with_a_hint(tmp_path, kwargs, complaint):
    with pytest.raises(ConfigError, match=complaint) as err:
        matrix.expand(load(tmp_path), **kwargs)
    assert err.value.hint


def test_suite_and_bench_reach_every_cell_and_its_command(tmp_path):
    cells = matrix.expand(load(tmp_path), suite="threads", bench="false")
    assert {(c.suite, c.bench) for c in cells} == {("threads", "off")}
    cell = cells[0]
    assert cell.command == (f"nox -s ci-local -- --variant {cell.variant} --numpy 2.1.3 "
                            "--python 3.13t --suite threads --bench off")
    on = matrix.expand(load(tmp_path), event="schedule", bench="")[0]
    assert on.bench == "on" and on.command.endswith(f"--bench on --workers {on.workers}")
    assert matrix.expand(load(tmp_path), bench=True)[0].bench == "on"


def test_github_json_round_trips_and_ids_are_unique(tmp_path):
    cells = matrix.expand(load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n'), event="schedule")
    data = json.loads(matrix.to_github(cells))
    assert [matrix.Cell.from_json(c) for c in data["include"]] == cells
    assert len({c["id"] for c in data["include"]}) == len(cells)
    assert all(c["command"].startswith("nox -s ci-local -- ") for c in data["include"])


def test_main_writes_the_github_output_and_checks_coverage(tmp_path, monkeypatch, capsys):
    m = load(tmp_path)
    monkeypatch.setattr(manifest, "default", lambda: m)
    out = tmp_path / "github_output"
    assert matrix.main(["--event", "schedule", "--github-output", str(out)]) == 0
    key, _, value = out.read_text().strip().partition("=")
    assert key == "matrix" and len(json.loads(value)["include"]) == 6
    printed = capsys.readouterr().out
    assert "nox -s ci-local -- --variant old" in printed and "6 jobs, about" in printed
    assert matrix.main(["--check"]) == 1  # 'new' and 3.14t get no job
    assert "'new' gets no CI job" in capsys.readouterr().err


def test_a_retired_runner_label_is_refused_with_its_date_and_replacement(tmp_path, monkeypatch, capsys):
    load(tmp_path)
    path = tmp_path / "manifest.toml"
    path.write_text(path.read_text().replace('"macos-15"', '"macos-14"'))
    m = manifest.load(path)
    with pytest.raises(ConfigError, match=r"macos-14 was retired by GitHub on 2026-11-02 "
                                          r"\(actions/runner-images#13518\)") as err:
        matrix.expand(m)
    assert "use macos-15" in err.value.hint
    monkeypatch.setattr(manifest, "default", lambda: m)
    assert ci_entry("matrix", matrix.main, ["--event", "schedule"]) == 2
    assert "2026-11-02" in capsys.readouterr().err


def test_an_unknown_runner_label_is_refused(tmp_path):
    path = tmp_path / "manifest.toml"
    load(tmp_path)
    path.write_text(path.read_text().replace('"windows-2022"', '"windows-2016"'))
    with pytest.raises(ConfigError, match="unknown runner label 'windows-2016'"):
        matrix.expand(manifest.load(path))


def test_the_retired_list_names_a_date_an_announcement_and_a_live_replacement():
    assert runners.RETIRED["macos-14"].date == "2026-11-02"
    for r in runners.RETIRED.values():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r.date)
        assert re.fullmatch(r"actions/runner-images#\d+", r.issue)
        assert r.replacement in runners.CORES and r.label not in runners.CORES
    assert runners.CORES["macos-15"] == 3 and runners.bench_workers("macos-15") == "1,2,3"


def test_the_shipped_manifest_uses_no_retired_runner_and_records_upstream_pythons():
    m = manifest.load()
    for label in m.ci.os:
        runners.check(label)
    assert "macos-15" in m.ci.os
    assert "3.13t" not in m.numpy[max(m.numpy, key=Version)].upstream_pythons  # NumPy 2.5 dropped 3.13t


def test_the_shipped_push_matrix_is_a_small_linux_smoke_run_of_every_variant():
    m = manifest.load()
    cells = matrix.expand(m)
    assert len(cells) <= matrix.MAX_PUSH_JOBS == 12
    assert {manifest.os_family(c.os) for c in cells} == {"linux"}
    assert matrix.coverage_problems(m, cells) == []
    assert {c.variant for c in cells} == set(m.variants) - {"baseline"}
    assert {(c.suite, c.bench) for c in cells} == {("quick", "quick")}
    newest = max(m.numpy, key=Version)
    assert {c.python for c in cells if c.numpy == m.default_numpy} == {"3.13t"}
    assert {c.python for c in cells if c.numpy == newest} == {"3.14t"}


def test_the_shipped_scheduled_matrix_has_every_os_and_only_upstream_cells():
    m = manifest.load()
    cells = matrix.expand(m, event="schedule")
    assert matrix.coverage_problems(m, cells, every_os=True) == []
    assert {c.os for c in cells} == set(m.ci.os)
    assert "baseline" not in {c.variant for c in cells}
    assert all(c.python in m.numpy[c.numpy].upstream_pythons for c in cells)
    assert not any(c.os in runners.RETIRED for c in cells)
    assert all(c.workers == runners.bench_workers(c.os) for c in cells)
