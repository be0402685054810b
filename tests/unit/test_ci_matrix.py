from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci import matrix
from lockswap import manifest
from lockswap.errors import ConfigError

TOML = """
schema = 1
default_numpy = "2.1.3"
[numpy."2.1.3"]
pythons = ["3.13t"]
[numpy."2.5.5"]
pythons = ["3.13t", "3.14t"]
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
os = ["ubuntu-24.04", "macos-14", "windows-2022"]
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


def test_default_runs_ci_numpy_with_its_variants_and_pythons(tmp_path):
    m = load(tmp_path)  # [ci] numpy defaults to default_numpy = 2.1.3 (3.13t only)
    cells = matrix.expand(m)
    assert ids(cells) == {(v, "2.1.3", "3.13t", o) for v in ("baseline", "old")
                          for o in ("ubuntu-24.04", "macos-14", "windows-2022")}
    assert {c.suite for c in cells} == {"quick"} and all(c.bench for c in cells)


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
    assert ("new", "2.5.5", "3.14t", "macos-14") in ids(cells)
    assert not any(c.variant == "old" and c.numpy == "2.5.5" for c in cells)  # no patch: no job
    assert not any(c.numpy == "2.1.3" and c.python == "3.14t" for c in cells)  # NumPy lacks it


def test_coverage_flags_cells_the_manifest_does_not_declare(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n')
    stray = matrix.Cell("ghost", "2.1.3", "3.12t", "freebsd-14", "quick", True)
    problems = matrix.coverage_problems(m, [*matrix.expand(m), stray])
    assert any("'ghost'" in p for p in problems)
    assert any("'3.12t'" in p for p in problems) and any("'freebsd-14'" in p for p in problems)


def test_exclusions_match_on_all_their_keys_and_os_families(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\nexclude = [{ variant = "new", os = "windows" },'
                       ' { numpy = "2.5.5", python = "3.13t", os = "macos-14" }]\n')
    cells = ids(matrix.expand(m))
    assert not any(v == "new" and o == "windows-2022" for v, _, _, o in cells)
    assert ("new", "2.5.5", "3.14t", "ubuntu-24.04") in cells
    assert not any(n == "2.5.5" and p == "3.13t" and o == "macos-14" for _, n, p, o in cells)
    assert ("baseline", "2.5.5", "3.14t", "macos-14") in cells
    assert ("baseline", "2.1.3", "3.13t", "macos-14") in cells


def test_an_exclusion_that_removes_a_variant_shows_in_coverage(tmp_path):
    m = load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\nexclude = [{ variant = "new" }]\n')
    assert any("'new' gets no CI job" in p for p in matrix.coverage_problems(m, matrix.expand(m)))


def test_filters(tmp_path):
    m = load(tmp_path)
    cells = matrix.expand(m, numpy="all", variants="new, baseline", pythons="3.14t", os="ubuntu")
    assert ids(cells) == {("baseline", "2.5.5", "3.14t", "ubuntu-24.04"),
                          ("new", "2.5.5", "3.14t", "ubuntu-24.04")}
    assert len(matrix.expand(m, numpy="2.5.5")) == 3 * 2 * 2  # baseline+new x 2 Pythons x 3 OS
    assert {c.variant for c in matrix.expand(m, numpy="all", variants="all")} == {"baseline", "old", "new"}


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
        ({"numpy": "2.1.3", "pythons": "3.14t"}, "leave no job"),
    ],
)
def test_bad_filters_are_refused_with_a_hint(tmp_path, kwargs, complaint):
    with pytest.raises(ConfigError, match=complaint) as err:
        matrix.expand(load(tmp_path), **kwargs)
    assert err.value.hint


def test_suite_and_bench_reach_every_cell_and_its_command(tmp_path):
    cells = matrix.expand(load(tmp_path), suite="threads", bench="false")
    assert {(c.suite, c.bench) for c in cells} == {("threads", False)}
    cell = cells[0]
    assert cell.command == (f"nox -s ci-local -- --variant {cell.variant} --numpy 2.1.3 "
                            "--python 3.13t --suite threads --bench off")
    assert matrix.expand(load(tmp_path), bench="")[0].bench is matrix.DEFAULT_BENCH


def test_github_json_round_trips_and_ids_are_unique(tmp_path):
    cells = matrix.expand(load(tmp_path, 'numpy = ["2.1.3", "2.5.5"]\n'))
    data = json.loads(matrix.to_github(cells))
    assert [matrix.Cell.from_json(c) for c in data["include"]] == cells
    assert len({c["id"] for c in data["include"]}) == len(cells)
    assert all(c["command"].startswith("nox -s ci-local -- ") for c in data["include"])


def test_main_writes_the_github_output_and_checks_coverage(tmp_path, monkeypatch, capsys):
    m = load(tmp_path)
    monkeypatch.setattr(manifest, "default", lambda: m)
    out = tmp_path / "github_output"
    assert matrix.main(["--github-output", str(out)]) == 0
    key, _, value = out.read_text().strip().partition("=")
    assert key == "matrix" and len(json.loads(value)["include"]) == 6
    assert "nox -s ci-local -- --variant old" in capsys.readouterr().out
    assert matrix.main(["--check"]) == 1  # 'new' and 3.14t get no job
    assert "'new' gets no CI job" in capsys.readouterr().err


def test_the_shipped_manifest_gives_every_variant_python_and_os_a_job_on_push():
    m = manifest.load()
    cells = matrix.expand(m)
    assert matrix.coverage_problems(m, cells) == []
    assert {c.variant for c in cells} == set(m.variants)
    assert {c.python for c in cells} == set(m.ci.pythons)
    assert {c.os for c in cells} == set(m.ci.os)
