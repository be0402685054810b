"""The report's plots: the t1/tN forest plot, the build palette, the throughput plots' legends and
axes, and the contention chart's legend; each drawn for real (matplotlib Agg) from small inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lockswap.base import stats
from lockswap.contention import render as contention
from lockswap.report import analysis, plots, verdict
from lockswap.report.plots import ForestPoint

pytest.importorskip("matplotlib")

FIXTURE = Path(__file__).parents[1] / "fixtures" / "bench" / "results-v3.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _fewer_resamples(monkeypatch):
    monkeypatch.setattr(stats, "RESAMPLES", 300)  # the same code, faster


@pytest.fixture
def drawn(monkeypatch) -> list[Any]:
    """Every figure the plots close, kept open enough to inspect (its artists stay readable)."""
    import matplotlib.pyplot as plt

    figures: list[Any] = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (figures.append(fig), real_close(fig)))
    return figures


def _png(path: Path) -> None:
    assert path.exists() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def _legend_texts(fig: Any) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


# --- palette ---------------------------------------------------------------------------------------

def test_build_styles_stay_distinct_past_ten_builds_and_baseline_comes_first():
    labels = [f"v{i}" for i in range(39)] + ["baseline"]
    styles = plots.build_styles(labels)
    assert len(styles) == 40 and len(set(styles.values())) == 40  # (colour, marker) pairs unique
    assert styles["baseline"] == plots.build_styles(["baseline"])["baseline"]  # the first style
    assert styles["v0"] == plots.build_styles(["v0", "baseline"])["v0"]  # deterministic, second
    assert plots.build_styles(labels) == styles
    # builds 0 and 9 share a colour (9 colours) but not a marker: no two builds look alike
    colour_0, marker_0 = styles["baseline"]
    assert styles["v8"][0] == colour_0 and styles["v8"][1] != marker_0
    assert plots.build_styles(["a", "a", "b"]) == plots.build_styles(["a", "b"])


# --- forest ----------------------------------------------------------------------------------------

def _points() -> list[ForestPoint]:
    return [ForestPoint("rwlock", "2.1.3", 0.71, 0.66, 0.75, 12, verdict="scales better"),
            ForestPoint("tls", "2.1.3", 0.64, None, None, 2, verdict="too few processes"),
            ForestPoint("dict", "2.1.3", 0.55, 0.40, 0.70, 12, disturbed=True),
            ForestPoint("baseline@2.5.5", "2.5.5", 0.97, 0.95, 1.01, 12, upstream=True),
            ForestPoint("baseline", "2.1.3", 0.62, 0.58, 0.66, 12, reference=True, verdict="reference")]


def test_forest_puts_the_reference_first_and_marks_what_is_special(tmp_path, drawn):
    out = plots.forest(_points(), title="add n=1", workers=2, out=tmp_path / "f" / "forest.png")
    assert out == tmp_path / "f" / "forest.png"
    _png(out)
    assert [p.name for p in out.parent.iterdir()] == ["forest.png"]  # nothing temporary left
    (fig,) = drawn
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names[0] == "baseline @ 2.1.3 (reference)" and names[1].startswith("rwlock")
    assert names[2:] == ["tls @ 2.1.3", "dict @ 2.1.3", "baseline@2.5.5 (upstream)"]  # order given
    assert ax.yaxis_inverted()  # the reference row on top
    texts = [t.get_text() for t in ax.texts]
    assert "n too small" in texts
    assert any("0.71 [0.66, 0.75]" in t and "scales better" in t for t in texts)
    vlines = {(line.get_xdata()[0], line.get_linestyle()) for line in ax.get_lines()
              if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}
    assert (1.0, "-") in vlines and (0.62, "--") in vlines
    low, high = ax.get_xlim()
    assert low <= 0.4 and high >= 1.05
    assert ax.get_xlabel() == "t1/t2 (1.0 = linear scaling)"
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]
    assert len(hollow) == 1 and hollow[0].get_xdata()[0] == 0.55  # the disturbed point
    legend = _legend_texts(fig)
    assert "upstream NumPy build" in legend and "disturbed run (hollow, grey)" in legend
    assert "reference: baseline @ 2.1.3" in legend


def test_forest_widens_its_axis_to_the_data_and_needs_no_reference(tmp_path, drawn):
    points = [ForestPoint("a", "2.2.6", 1.3, 1.1, 1.6, 5), ForestPoint("b", "2.2.6", 0.2, None, None, 1)]
    _png(plots.forest(points, title="wide", workers=4, out=tmp_path / "wide.png"))
    ax = drawn[0].axes[0]
    low, high = ax.get_xlim()
    assert low < 0.2 and high > 1.6
    assert not any(line.get_linestyle() == "--" for line in ax.get_lines())
    assert not any("reference" in t for t in _legend_texts(drawn[0]))
    assert not any("upstream" in t or "disturbed" in t for t in _legend_texts(drawn[0]))


def test_forest_rows_of_one_label_on_two_numpy_versions_get_two_styles(tmp_path, drawn):
    points = [ForestPoint("baseline", "2.1.3", 0.6, 0.5, 0.7, 5, reference=True),
              ForestPoint("baseline", "2.5.5", 0.9, 0.8, 1.0, 5, upstream=True)]
    plots.forest(points, title="t", workers=2, out=tmp_path / "f.png")
    markers = [line for line in drawn[0].axes[0].get_lines() if line.get_marker() not in ("None", "|", "")]
    assert len({line.get_color() for line in markers}) == 2


def test_forest_without_points_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one point"):
        plots.forest([], title="t", workers=2, out=tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


# --- throughput plots ------------------------------------------------------------------------------

def _bench(tmp_path: Path, *, modes: tuple[str, ...] = ("threads", "processes"), cores: int = 2) -> Path:
    doc = json.loads(FIXTURE.read_text())
    doc["measurements"] = [m for m in doc["measurements"] if m["mode"] in modes and m["workload"] == "add"]
    doc["machine"].update(logical_cores=cores, usable_cores=cores, physical_cores=cores,
                          affinity=list(range(cores)), smt_siblings=[[i] for i in range(cores)])
    path = tmp_path / f"bench-{'-'.join(modes)}-{cores}.json"
    path.write_text(json.dumps(doc))
    return path


def _group(path: Path, out: Path) -> list[Path]:
    a = analysis.analyse(verdict.load([path]))
    machine, numpy = next((r.key.run, r.key.numpy) for r in a.throughput_rows)
    return plots.plot_group(a, machine, numpy, "add", out)


def test_processes_are_in_the_legend_only_when_measured(tmp_path, drawn):
    pngs = _group(_bench(tmp_path, modes=("threads",)), tmp_path / "threads")
    assert len(pngs) == 2 and len(drawn) == 2
    for png in pngs:
        _png(png)
    for fig in drawn:
        texts = _legend_texts(fig)
        assert "threads" in texts and "processes" not in texts
    drawn.clear()
    _group(_bench(tmp_path), tmp_path / "both")
    assert all("processes" in _legend_texts(fig) for fig in drawn)


def _data_top(ax: Any) -> float:
    return max(max(line.get_ydata()) for line in ax.get_lines() if line.get_linestyle() != ":")


def test_no_ideal_lines_on_two_cores_and_the_axis_starts_at_zero(tmp_path, drawn):
    _group(_bench(tmp_path), tmp_path)  # workers 1, 2, 4 on 2 physical cores
    throughput = drawn[0]
    ax = throughput.axes[0]
    assert not [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert not any("ideal" in t for t in _legend_texts(throughput))
    assert ax.get_ylim()[0] == 0


def test_ideal_lines_on_four_cores_leave_the_data_room(tmp_path, drawn):
    _group(_bench(tmp_path, cores=4), tmp_path)
    throughput = drawn[0]
    ax = throughput.axes[0]
    ideal = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert ideal and "ideal linear (physical cores)" in _legend_texts(throughput)
    bottom, top = ax.get_ylim()
    assert bottom == 0 and top <= 2.1 * _data_top(ax)  # the data fills at least about half the height
    assert max(max(line.get_ydata()) for line in ideal) > _data_top(ax)  # it does reach past the data


def test_every_variant_keeps_its_palette_style_in_both_plots(tmp_path, drawn):
    _group(_bench(tmp_path), tmp_path)
    styles = plots.build_styles(["baseline", "rwlock"])
    for fig in drawn:
        handles = fig.legends[0].legend_handles
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        for handle, label in zip(handles, labels, strict=True):
            if label in styles:
                assert (handle.get_color(), handle.get_marker()) == styles[label]
        curves = [line for line in fig.axes[0].get_lines() if line.get_marker() not in ("None", "")]
        assert {line.get_color() for line in curves} <= {c for c, _ in styles.values()}


# --- contention chart ------------------------------------------------------------------------------

def _row(arm: str, label: str, gain: float, significant: bool, ceiling: dict | None = None) -> dict:
    return {"arm": arm, "label": label, "type": "ufunc", "repr": f"<{label}>", "gain": gain,
            "gain_ci": [gain - 0.02, gain + 0.02], "significant": significant, "ceiling": ceiling}


def _contention(with_ceiling: bool) -> dict:
    def ceiling(loss: float, significant: bool) -> dict | None:
        return {"loss": loss, "loss_ci": [loss - 0.01, loss + 0.01], "significant": significant,
                "p_holm": 0.01} if with_ceiling else None

    return {"target": {"label": "lockfree"}, "workload": {"name": "add"}, "plan": {"workers": 2},
            "ranking": [_row("c2", "add", 0.07, True, ceiling(0.05, True)),
                        _row("c1", "_extobj_contextvar", 0.04, False, ceiling(0.01, False)),
                        _row("all", "everything at once", 0.12, True)]}


@pytest.mark.parametrize("with_ceiling", [True, False])
def test_contention_legend_colours_are_the_bar_colours(tmp_path, drawn, with_ceiling):
    from matplotlib.colors import to_rgb
    from matplotlib.container import BarContainer

    _png(contention.chart(_contention(with_ceiling), tmp_path / "c.png"))
    (fig,) = drawn
    ax = fig.axes[0]
    legend = ax.get_legend()
    colour_of = {t.get_text(): to_rgb(h.get_facecolor())
                 for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert {c.get_label() for c in containers} == (
        {"alone", "at the ceiling", "everything at once (ceiling)"} if with_ceiling
        else {"alone", "everything at once (ceiling)"})
    for container in containers:
        for bar in container.patches:  # every bar of a series has its legend entry's colour
            assert to_rgb(bar.get_facecolor()) == colour_of[container.get_label()]
    alone = next(c for c in containers if c.get_label() == "alone")
    everything = next(c for c in containers if c.get_label() == "everything at once (ceiling)")
    assert colour_of["alone"] != colour_of["everything at once (ceiling)"]
    assert len(alone.patches) == 2 and len(everything.patches) == 1
    assert "faded: not significant" in colour_of
