"""Read, print and plot contention results (``kind: "lockswap-contention"``): table and bar chart.

Needs only the JSON (and matplotlib for the chart); the report can call :func:`markdown` and
:func:`chart` for files of this kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..base import jsonfile, paths, stats
from ..base.errors import ConfigError
from ..base.mdtext import escape as esc
from .analysis import LAYOUT

KIND = "lockswap-contention"
VERSION = 4  # 2: each ranking row has "ceiling" (its cost with everything else immortal); 3: machine
# .loadavg_at_start is read before discovery and .loadavg_at_end after the last process (schema 1-2
# files hold the load when the file was written, i.e. at the end, under loadavg_at_start); 4: the
# "layout" arm (workers' interpreter state apart) and each run's "spread" (slowest / fastest worker)


def load(path: Path) -> dict[str, Any]:
    """A contention results file, checked; one clear message for anything else."""
    doc = jsonfile.read(Path(path))  # bounded in size and nesting: one clear error naming the file
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        raise ConfigError(f"{path} is not a contention result (kind {kind!r})",
                          "pass a results/contention-*.json file")
    if int(doc.get("schema_version", 0)) > VERSION:
        raise ConfigError(f"{path} was written by a newer lockswap (schema {doc['schema_version']})",
                          "update lockswap to read it")
    return doc


def _ci(lo_hi: list[float] | tuple[float, float]) -> str:
    return f"[{lo_hi[0]:+.3f}, {lo_hi[1]:+.3f}]"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def load_line(doc: dict[str, Any]) -> str:
    """The 1-minute load at the start and end of the measurement, and whether the start was busy (above
    half the usable CPUs: the rule of docs/measurements.md). Schema 1-2 files read it at the end only."""
    m = doc.get("machine") or {}
    at = m.get("loadavg_at_start")
    cpus = m.get("usable_cores")
    start = float(at[0]) if isinstance(at, list) and at else None
    end = m.get("loadavg_at_end")
    if int(doc.get("schema_version", 0)) < 3:
        return (f"1-minute load when the file was written: {start:.2f} (schema {doc.get('schema_version')} "
                "files record no load at the start)" if start is not None else "load: not recorded")
    text = (f"1-minute load {start:.2f} at the start of the measurement, "
            f"{float(end):.2f} at its end" if start is not None and end is not None else "load: not recorded")
    if start is not None and isinstance(cpus, int) and start > cpus / 2:
        text += f" ({cpus} usable CPUs: a busy start, so the timed arms are exploratory)"
    return text + "."


def markdown(doc: dict[str, Any]) -> str:
    """The ranked table, with what was measured above it and what was left out below it (every string
    of the file escaped: a results file may come from anywhere)."""
    t = doc["target"]
    w = doc["workload"]
    plan = doc["plan"]
    n = plan["workers"]
    lines = [
        f"### Contention: {esc(t['label'])} (NumPy {esc(t.get('numpy_version'))}), "
        f"workload {esc(w['name'])} n={esc(w['size'])}",
        "",
        f"t1/t{n} per process (1.00 = linear), median over {plan['repeats']} fresh processes per arm, "
        f"{plan['iterations']} calls per thread; gain = median with the object immortal minus unmodified, "
        "95% bootstrap CI; at the ceiling = median with everything immortal minus median with everything "
        "but this object immortal (gains need not add up: one bouncing line can hide another); "
        "p: two-sided Mann-Whitney U, Holm-adjusted across every comparison of the run; "
        "**bold** = significant (adjusted p < 0.05 and CI excludes 0).",
        "",
        f"| # | object | type | t1/t{n} without | t1/t{n} with [95% CI] | gain alone [95% CI] | p (Holm) | "
        "at the ceiling [95% CI] | p (Holm) | 1 thread ns/call (without -> with) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    u = doc.get("unmodified")
    if u:
        lines[4:4] = [f"Unmodified: t1/t{n} = {u['median']:.3f} [95% CI {u['ci'][0]:.3f}-{u['ci'][1]:.3f}] "
                      f"over {u['n']} processes.", ""]
    lines[4:4] = [load_line(doc), ""]
    for i, r in enumerate(doc["ranking"], 1):
        label = esc(r["label"]) if r["arm"] != "all" else "**everything at once** (ceiling)"
        gain = f"{r['gain']:+.3f} {_ci(r['gain_ci'])}"
        if r["significant"]:
            gain = f"**{gain}**"
        t1 = (f"{r['t1_ns_without']:.0f} -> {r['t1_ns_with']:.0f}"
              if r.get("t1_ns_without") and r.get("t1_ns_with") else "")
        c = r.get("ceiling")  # schema 1 rows have none
        cost, cost_p = ("", "")
        if c:
            cost = f"{c['loss']:+.3f} {_ci(c['loss_ci'])}"
            cost, cost_p = (f"**{cost}**" if c["significant"] else cost), _p(c["p_holm"])
        lines.append(f"| {i if r['arm'] != 'all' else '-'} | {label} {esc(r['repr'])} | {esc(r['type'])} | "
                     f"{r['without']:.3f} | {r['with']:.3f} [{r['with_ci'][0]:.3f}-{r['with_ci'][1]:.3f}] | "
                     f"{gain} | {_p(r['p_holm'])} | {cost} | {cost_p} | {t1} |")
    if not doc["ranking"]:
        lines.append("| - | no counterfactual measured: no candidate (see below) | | | | | | | | |")
    lines += ["", unexplained(doc)]
    spread = spread_line(doc)
    if spread:
        lines += ["", spread]
    for f in doc.get("failures", []):
        tail = [ln for ln in f["stderr_tail"].strip().splitlines() if ln.strip()]
        first = next((ln for ln in tail if "Fatal Python error" in ln or "Error" in ln),
                     tail[-1] if tail else "")
        lines.append(f"\n{esc(f['label'])}: repeat {f['repeat'] + 1} {esc(f['kind'])} "
                     f"(exit {esc(f['returncode'])}): {esc(first.strip())}")
    for a in doc.get("refused", []):
        lines.append(f"\nnot measured: {esc(a['label'])}: {esc(a['reason'])}")
    d = doc["discovery"]
    swept = f", then a sweep of {d['swept']} other GC-tracked objects" if d.get("swept") else ""
    lines += ["", f"Discovery: {d['examined']} objects examined ({d['already_immortal']} already immortal), "
              f"{d['samples']} samples of their shared refcounts while a second thread ran the kernel"
              f"{swept}; "
              f"{len(d['candidates'])} written{':' if d['candidates'] else ''}", ""]
    for c in d["candidates"][:20]:
        lines.append(f"- {esc(c['locator'] or '(no path)')} ({esc(c['type_module'])}.{esc(c['type'])}) "
                     f"{esc(c['repr'])}: shared refcount "
                     f"away from rest in {c['busy']} of {c['samples']} samples; found as {esc(c['via'][0])}")
    same = d.get("contextvars_ambiguous") or []
    if same:
        lines += ["", "Not examined: ContextVars that share a name with another live one (no locator can "
                  f"tell them apart in a fresh process): {', '.join(esc(repr(x)) for x in same[:8])}"]
    late = d.get("immortal_at_thread_start_roots") or []
    if late:
        names = ", ".join(f"{esc(x['locator'])} ({esc(x['type'])})" for x in late[:8])
        lines += ["", f"Immortal once a thread started, so never shared-written here: {names}"
                  f"{' and more' if len(late) > 8 else ''} "
                  f"({d.get('immortal_at_thread_start')} objects in all: "
                  "free-threaded CPython 3.13 immortalises objects that use deferred reference counting, "
                  "modules, their dicts and top-level functions among them, when the first thread starts; "
                  "gh-117783)."]
    lines += ["", f"perf c2c: {esc(doc.get('perf_c2c', 'not checked'))}"]
    return "\n".join(lines) + "\n"


def unexplained(doc: dict[str, Any]) -> str:
    """How much of linear scaling the measured objects leave unexplained: 1 - t1/tN with every
    candidate immortal (or, with no candidate, 1 - t1/tN unmodified), and what keeping the workers'
    interpreter state apart (the layout arm) explains of it. A finder that finds nothing still says
    how much is missing."""
    n = doc["plan"]["workers"]
    objects = [r for r in doc["ranking"] if r["arm"] != LAYOUT]
    layout = next((r for r in doc["ranking"] if r["arm"] == LAYOUT), None)
    best = next((r for r in objects if r["arm"] == "all"), None) or \
        max(objects, key=lambda r: r["with"], default=None)
    u = doc.get("unmodified") or {}
    if best is not None:
        got, what = float(best["with"]), "with every measured candidate immortal"
    elif u.get("median") is not None:
        got, what = float(u["median"]), "unmodified, and no object the finder samples was shared-written"
    else:
        return "Unexplained scaling: not measured."
    text = (f"Unexplained: t1/t{n} is {got:.3f} {what}, so {max(0.0, 1 - got):.1%} of linear scaling is "
            "not explained by the shared reference counts this finder samples (what remains is elsewhere: "
            "objects reachable only from C statics or capsules, the allocator, a lock, the interpreter's "
            "per-thread state, or memory that is not a reference count).")
    if layout is None:
        return text
    gain = f"{layout['gain']:+.3f} {_ci(layout['gain_ci'])}, Holm p {_p(layout['p_holm'])}"
    if not layout["significant"]:
        return text + (f" Keeping the workers' interpreter state apart (an idle thread started between "
                       f"workers) changes t1/t{n} by {gain}: not significant, so the thread layout is not "
                       "what is missing here.")
    left = max(0.0, 1 - max(got, float(layout["with"])))
    return text + (f" **Keeping the workers' interpreter state apart** (an idle thread started between "
                   f"workers, nothing immortal) gives t1/t{n} {float(layout['with']):.3f} ({gain}): part "
                   "of the cost is where each thread's interpreter state sits, not a shared object "
                   "(CPython 3.13t: each thread's QSBR slot is 64 bytes after the previous thread's; no "
                   f"NumPy patch moves it). The better of the two leaves {left:.1%} unexplained.")


def spread_line(doc: dict[str, Any]) -> str:
    """Median over processes of the slowest worker's time over the fastest one's in the N-thread run,
    unmodified and per arm (schema 4+). Near 1: the threads slow down alike (a shared line both write);
    well above 1 with each thread fast alone: one thread pays for its neighbour."""
    by: dict[str, list[float]] = {}
    for r in doc.get("runs", []):
        if isinstance(r.get("spread"), (int, float)):
            by.setdefault(str(r["arm"]), []).append(float(r["spread"]))
    if not by:
        return ""
    label = {a: str(info.get("label", a)) for a, info in (doc.get("arms") or {}).items()}
    label[LAYOUT] = "interpreter state apart"
    parts = [f"{esc(label.get(a, a))} {stats.median(v):.2f}" for a, v in sorted(
        by.items(), key=lambda kv: (kv[0] != "none", kv[0]))]
    return (f"Slowest over fastest worker in the t{doc['plan']['workers']} run (median over processes): "
            + "; ".join(parts) + ".")


def _short_label(row: dict[str, Any]) -> str:
    if row["arm"] == "all":
        return "everything at once"
    if row["arm"] == LAYOUT:
        return "interpreter state apart"
    label = str(row["label"])
    return label if len(label) <= 32 else str(row.get("repr") or label)[:45]


def chart(doc: dict[str, Any], out: Path) -> Path:
    """Horizontal bars of the gains with their CIs: each object alone (blue), at the ceiling (orange,
    when measured) and everything at once (green); significant bars solid, the others faded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    # bar colours; the legend is built from these same values, so it always matches the bars
    alone, at_ceiling, everything = "C0", "C1", "C2"
    faded = 0.35  # alpha of a bar whose CI does not make it significant
    rows = list(reversed(doc["ranking"]))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    ys = list(range(len(rows)))
    two = any(r.get("ceiling") for r in rows)
    height = 0.4 if two else 0.8
    # (legend label, colour, y offset, [(y, value, (low, high), significant)])
    series = [("alone", alone, 0.2 if two else 0.0,
               [(y, r["gain"], r["gain_ci"], r["significant"]) for y, r in zip(ys, rows, strict=True)
                if r["arm"] != "all"]),
              ("at the ceiling", at_ceiling, -0.2,
               [(y, r["ceiling"]["loss"], r["ceiling"]["loss_ci"], r["ceiling"]["significant"])
                for y, r in zip(ys, rows, strict=True) if r.get("ceiling")]),
              ("everything at once (ceiling)", everything, 0.0,
               [(y, r["gain"], r["gain_ci"], r["significant"]) for y, r in zip(ys, rows, strict=True)
                if r["arm"] == "all"])]
    handles, names = [], []
    for name, colour, dy, shown in series:
        if not shown:
            continue
        bars = ax.barh([y + dy for y, *_ in shown], [v for _, v, _, _ in shown],
                       xerr=[[v - ci[0] for _, v, ci, _ in shown], [ci[1] - v for _, v, ci, _ in shown]],
                       color=colour, capsize=3, height=height, label=name)
        for bar, (*_, sig) in zip(bars, shown, strict=True):
            if not sig:
                bar.set_alpha(faded)
        handles.append(Patch(facecolor=colour))
        names.append(name)
    if any(not sig for *_, shown in series for *_, sig in shown):
        handles.append(Patch(facecolor="grey", alpha=faded))
        names.append("faded: not significant")
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # off the bars
    ax.set_yticks(ys)
    ax.set_yticklabels([_short_label(r) for r in rows], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    n = doc["plan"]["workers"]
    ax.set_xlabel(f"gain in t1/t{n} when immortal (95% bootstrap CI; faded: not significant)")
    ax.set_title(f"{doc['target']['label']} / {doc['workload']['name']}: which object limits scaling",
                 fontsize=10)
    fig.tight_layout()
    with paths.atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def write(doc: dict[str, Any], json_path: Path) -> tuple[Path, Path | None]:
    """Write the JSON (atomically) and, if matplotlib is installed, the chart beside it."""
    paths.atomic_write_text(json_path, json.dumps(doc, indent=1) + "\n")
    if not doc["ranking"]:
        return json_path, None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return json_path, None
    return json_path, chart(doc, json_path.with_suffix(".png"))


def is_contention(path: Path) -> bool:
    """Whether ``path`` is a contention result (anything unreadable: no; the bench reader says why)."""
    try:
        doc = jsonfile.read(Path(path))
    except jsonfile.BadJson:
        return False
    return isinstance(doc, dict) and doc.get("kind") == KIND


def report_section(files: list[Path], out_dir: Path) -> tuple[list[str], list[Path]]:
    """Markdown lines and charts (written into ``out_dir``) for ``lockswap report``."""
    md = ["## Contention: which shared objects limit scaling", "",
          "From `lockswap contention` (docs/contention.md): each written object made immortal in fresh "
          "processes, interleaved with unmodified ones.", ""]
    pngs = []
    for f in files:
        doc = load(f)
        md += [*markdown(doc).splitlines(), ""]
        if doc["ranking"]:
            png = chart(doc, out_dir / f"{Path(f).stem}.png")
            pngs.append(png)
            md += [f"![{esc(png.stem)}]({esc(png.name)})", ""]
    return md, pngs
