"""Results files are input from elsewhere (CI jobs, other machines): Markdown, HTML and huge or deeply
nested JSON in them render as inert text or are skipped, one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci import matrix, merge
from lockswap.base import jsonfile, stats
from lockswap.base.mdtext import escape
from lockswap.report import analysis, results, verdict
from lockswap.report import render as report
from lockswap.test import suite

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"
EVIL_VARIANT = "**faster** ![x](http://evil.example/x.png) [y](https://evil.example) <b>z</b>|w"
EVIL_CPU = "<img src=x onerror=alert(1)> `code` &amp;\n# heading"
DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: json.loads ends in RecursionError


@pytest.fixture(autouse=True)
def _fewer_resamples(monkeypatch):
    monkeypatch.setattr(stats, "RESAMPLES", 300)


@pytest.mark.parametrize(("text", "inert"), [
    ("**faster**", r"\*\*faster\*\*"),
    ("![x](http://e/x.png)", r"!\[x\](http\://e/x.png)"),
    ("[a](https://e)", r"\[a\](https\://e)"),
    ("<img src=x onerror=1>", "&lt;img src=x onerror=1&gt;"),
    ("a|b", r"a\|b"),
    ("`code`", r"\`code\`"),
    ("&amp; &#60;", "&amp;amp; &amp;#60;"),
    ("one\ntwo\r\nthree\tfour", "one two three four"),
    ("see www.evil.example", r"see www\.evil.example"),
    ("# heading", r"\# heading"),
    ("- item", r"\- item"),
    ("_x_ ~~y~~ $z$", r"\_x\_ \~\~y\~\~ \$z\$"),
    ("back\\slash", r"back\\slash"),
    ("rwlock", "rwlock"),  # ordinary names stay as they are
    ("baseline@2.2.6 (3.13t, 4 CPUs)", "baseline@2.2.6 (3.13t, 4 CPUs)"),
])
def test_escape_makes_markdown_and_html_inert(text, inert):
    assert escape(text) == inert


def test_depth_scan_ignores_brackets_inside_strings():
    assert jsonfile.depth('{"a": [1, [2]], "b": "[[[[\\"[[["}') == 3
    assert jsonfile.depth(DEEP, 64) == 65  # stops counting past the limit
    assert jsonfile.loads('{"a": "]]]]"}', "x") == {"a": "]]]]"}


def test_a_deep_or_huge_file_is_one_bad_json_error_naming_it(tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    with pytest.raises(RecursionError):
        json.loads(DEEP)  # what reading it naively does
    with pytest.raises(jsonfile.BadJson, match=rf"{deep}: nested deeper than {jsonfile.MAX_DEPTH} levels"):
        jsonfile.read(deep)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"pad": "x" * 2000}))
    monkeypatch.setattr(jsonfile, "MAX_BYTES", 1000)
    with pytest.raises(jsonfile.BadJson, match="bytes, over the 1000 bytes"):
        jsonfile.read(big, max_bytes=jsonfile.MAX_BYTES)
    with pytest.raises(jsonfile.BadJson, match="not valid JSON"):
        jsonfile.loads("[1,", "x")


def test_report_reader_and_test_result_loader_skip_a_deep_file(tmp_path):
    deep = tmp_path / "test-2.1.3-3.13t-baseline-quick.json"
    deep.write_text(DEEP)
    inputs = results.read([deep, FIXTURES / "results-v3.json"])
    assert [(s.path, s.reason) for s in inputs.skipped] == [
        (deep, f"nested deeper than {jsonfile.MAX_DEPTH} levels")]
    assert len(inputs.runs) == 1
    assert suite.TestResult.load_current(deep) is None


def forged_run(tmp_path: Path, *, ci: dict | None = None) -> Path:
    """The v3 fixture with Markdown/HTML in its variant name, CPU model, host, error and workload text."""
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
    doc["variants"][EVIL_VARIANT] = {**doc["variants"].pop("rwlock"), "label": EVIL_VARIANT,
                                     "variant": EVIL_VARIANT}
    for m in [*doc["measurements"], *doc["failures"]]:
        if m["target"] == "rwlock":
            m["target"] = m["variant"] = EVIL_VARIANT
    doc["machine"].update(cpu_model=EVIL_CPU, hostname="[host](http://evil.example)", os="Linux **x**")
    for f in doc["failures"]:
        f["error"] = "boom | ![img](http://evil.example/e.png)\n<script>alert(1)</script>"
        f["stderr_tail"] = "tail `code` <i>x</i>"
    if ci is not None:
        doc["ci"] = ci
    out = tmp_path / "bench-evil.json"
    out.write_text(json.dumps(doc))
    return out


def _assert_inert(text: str) -> None:
    for raw in ("**faster**", "![x](", "[y](", "<b>", "<img", "<script>", "![img](", "[host](", "`code`",
                "<i>", "\n# heading"):
        assert raw not in text, raw


def test_markdown_in_a_results_file_renders_as_text_in_report_and_summary(tmp_path):
    evil = forged_run(tmp_path)
    a = analysis.analyse(verdict.load([evil]))
    md_path, summary, _ = report.render(a, tmp_path / "out")
    md, sm = md_path.read_text(), summary.read_text()
    for text in (md, sm):
        _assert_inert(text)
        assert escape(EVIL_VARIANT) in text
    assert escape(EVIL_CPU) in md and "&lt;script&gt;" in md  # the failed cell's error, inert
    assert "| baseline |" in sm  # lockswap's own table still renders
    assert "**Bold**: significant" in sm  # and its own formatting is untouched
    assert EVIL_VARIANT in verdict.text_table(a)  # the terminal shows the name as it is


CELL = matrix.Cell("rwlock", "2.1.3", "3.13t", "ubuntu-24.04", "quick", "on", "1,2,4")


def test_collect_tags_a_file_with_its_artifacts_job_never_its_own_claim(tmp_path):
    cells = merge.load_matrix(matrix.to_github([CELL]))
    art = tmp_path / "artifacts" / f"results-{CELL.id}"
    art.mkdir(parents=True)
    claim = {"job": "x", "variant": "baseline", "numpy": "9.9", "python": "3.99t", "os": "macos-15"}
    forged_run(art, ci=claim)
    found = merge.collect(cells, tmp_path / "artifacts", tmp_path / "merged")
    (merged,) = found[CELL.id]
    assert json.loads(merged.read_text())["ci"] == {
        "job": CELL.id, "variant": "rwlock", "numpy": "2.1.3", "python": "3.13t", "os": "ubuntu-24.04"}


def test_collect_copies_a_deep_file_for_the_report_to_skip_and_leaves_out_a_huge_one(tmp_path, monkeypatch,
                                                                                      capsys):
    cells = merge.load_matrix(matrix.to_github([CELL]))
    art = tmp_path / "artifacts" / f"results-{CELL.id}"
    art.mkdir(parents=True)
    (art / "deep.json").write_text("[" * 2000 + "]" * 2000)
    size = forged_run(art).stat().st_size
    (art / "huge.json").write_text(json.dumps({"x": "y" * (size + 200)}))
    monkeypatch.setattr(jsonfile, "MAX_BYTES", size + 100)  # the forged run fits, huge.json does not
    skipped: list[str] = []
    found = merge.collect(cells, tmp_path / "artifacts", tmp_path / "merged", skipped)
    assert sorted(p.name for p in found[CELL.id]) == [f"{CELL.id}--bench-evil.json", f"{CELL.id}--deep.json"]
    assert len(skipped) == 1 and skipped[0].startswith(str(art / "huge.json"))
    inputs = results.read(found[CELL.id])
    assert [s.path.name for s in inputs.skipped] == [f"{CELL.id}--deep.json"] and len(inputs.runs) == 1


def test_collect_job_summary_escapes_and_names_a_left_out_file(tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    art = tmp_path / "artifacts" / f"results-{CELL.id}"
    art.mkdir(parents=True)
    size = forged_run(art).stat().st_size
    (art / "![x](evil.png) **b**.json").write_text(json.dumps({"x": "y" * (size + 200)}))
    monkeypatch.setattr(jsonfile, "MAX_BYTES", size + 100)
    assert merge.main(["collect", "--matrix", matrix.to_github([CELL]), "--artifacts",
                       str(tmp_path / "artifacts"), "--out", str(tmp_path / "merged")]) == 0
    text = summary.read_text()
    assert "- left out " in text and r"!\[x\](evil.png) \*\*b\*\*.json" in text
    assert "[x](" not in text and "**b**" not in text
