"""What a scaling study writes: `results.json` (every trial, and mean +- std per method and budget), `report.md`
(the paper's Table 7 form, and compound against each single dimension at equal cost) and the figures: accuracy
vs MACs per method (Fig. 8), accuracy vs coefficient per dimension (Fig. 3), width scaling under fixed (d, r)
(Fig. 4, grid mode), and accuracy vs measured latency and vs activations."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..engine import Engine, Record, summarize, throughput
from ..outputs import atomic_path
from .plots import line_plot, panels

RESULTS, REPORT = "results.json", "report.md"
FIGURES = {"fig8": "fig8_accuracy_vs_macs.png", "fig3": "fig3_accuracy_vs_coefficient.png",
           "fig4": "fig4_width_grid.png", "latency": "accuracy_vs_latency.png",
           "activations": "accuracy_vs_activations.png"}
TRIAL_FIELDS = ("method", "budget", "seed", "depth", "width", "resolution", "image_size", "params", "macs",
                "activations", "latency_ms", "top1", "top5", "seconds")
DIMENSIONS = ("depth", "width", "resolution")


def trial_rows(records: list[Record]) -> list[dict[str, Any]]:
    """The finished trials, one flat row each (the fields results.json promises first)."""
    rows = []
    for record in records:
        if record.state != "complete":
            continue
        row = {name: record.metrics.get(name) for name in TRIAL_FIELDS}
        row.update({k: v for k, v in record.metrics.items() if k not in row and k not in ("value", "started",
                                                                                                 "finished")})
        if record.params.get("method") == "grid":
            row.update(grid_depth=record.params["depth"], grid_resolution=record.params["resolution"],
                       grid_width=record.params["width"])
        rows.append(row)
    return rows


def _group_key(row: dict[str, Any]) -> tuple:
    if row["method"] == "grid":
        return ("grid", row["grid_depth"], row["grid_resolution"], row["grid_width"])
    return (row["method"], row["budget"])


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean +- std of top-1 / top-5 per network (method and budget, or grid point), with its cost."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[_group_key(row)].append(row)
    summary = []
    for key, members in groups.items():
        top1, top1_std = summarize([m["top1"] for m in members])
        top5, top5_std = summarize([m["top5"] for m in members])
        first = members[0]
        entry = {"method": first["method"], "budget": first["budget"], "trials": len(members),
                 "seeds": sorted(m["seed"] for m in members), "top1_mean": round(top1, 3),
                 "top1_std": round(top1_std, 3), "top5_mean": round(top5, 3), "top5_std": round(top5_std, 3),
                 **{name: first[name] for name in ("depth", "width", "resolution", "image_size", "params", "macs",
                                                   "activations", "latency_ms")},
                 "seconds_mean": round(summarize([m["seconds"] for m in members])[0], 1)}
        if key[0] == "grid":
            entry.update(grid_depth=key[1], grid_resolution=key[2], grid_width=key[3])
        summary.append(entry)
    order = {"baseline": 0, "depth": 1, "width": 2, "resolution": 3, "compound": 4, "grid": 5}
    return sorted(summary, key=lambda e: (e["budget"], order.get(e["method"], 9), e.get("grid_depth", 0),
                                          e.get("grid_resolution", 0), e.get("grid_width", 0)))


def comparisons(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compound against each single dimension at the same budget: the difference of mean top-1 and the spread."""
    by_key = {(e["method"], e["budget"]): e for e in summary}
    out = []
    for (method, budget), entry in sorted(by_key.items(), key=lambda item: (item[0][1], item[0][0])):
        compound = by_key.get(("compound", budget))
        if compound is None or method not in DIMENSIONS:
            continue
        spread = math.sqrt(compound["top1_std"] ** 2 + entry["top1_std"] ** 2)
        out.append({"budget": budget, "against": method, "compound_top1": compound["top1_mean"],
                    "other_top1": entry["top1_mean"],
                    "difference": round(compound["top1_mean"] - entry["top1_mean"], 3),
                    "spread": round(spread, 3), "compound_macs": compound["macs"], "other_macs": entry["macs"],
                    "seeds": min(compound["trials"], entry["trials"])})
    return out


def _mean_series(summary: list[dict[str, Any]], x: str, methods: tuple[str, ...]) -> dict[str, list]:
    """Per method, (x, mean top-1, std) points, each line starting at the shared baseline."""
    baseline = [e for e in summary if e["method"] == "baseline"]
    series: dict[str, list] = {}
    for method in methods:
        points = [(float(e[x]), e["top1_mean"], e["top1_std"]) for e in summary if e["method"] == method]
        if points:
            series[method] = [(float(b[x]), b["top1_mean"], b["top1_std"]) for b in baseline] + points
    return series


def write_figures(summary: list[dict[str, Any]], output: Path, title: str) -> dict[str, str]:
    methods = ("depth", "width", "resolution", "compound")
    written = {}
    fig8 = _mean_series(summary, "macs", methods)
    if fig8:
        line_plot({k: [(x / 1e6, m, s) for x, m, s in v] for k, v in fig8.items()}, output / FIGURES["fig8"],
                  xlabel="MMACs (multiply-adds)", ylabel="top-1 accuracy (%)", logx=True,
                  title=f"Scaling methods at equal MACs (paper Fig. 8): {title}")
        written["fig8"] = FIGURES["fig8"]
        line_plot(_mean_series(summary, "latency_ms", methods), output / FIGURES["latency"],
                  xlabel="measured latency, batch 1, 1 thread (ms)", ylabel="top-1 accuracy (%)", logx=True,
                  title=f"Accuracy vs measured latency: {title}")
        written["latency"] = FIGURES["latency"]
        line_plot({k: [(x / 1e6, m, s) for x, m, s in v]
                   for k, v in _mean_series(summary, "activations", methods).items()},
                  output / FIGURES["activations"], xlabel="activations (millions, Dollar et al. 2021)",
                  ylabel="top-1 accuracy (%)", logx=True, title=f"Accuracy vs activations: {title}")
        written["activations"] = FIGURES["activations"]
        groups = {dim: {dim: [(e[dim], e["top1_mean"], e["top1_std"]) for e in summary
                              if e["method"] in (dim, "baseline")]} for dim in DIMENSIONS
                  if any(e["method"] == dim for e in summary)}
        if groups:
            panels(groups, output / FIGURES["fig3"], xlabels={d: f"{d} coefficient ({d[0]})" for d in DIMENSIONS},
                   ylabel="top-1 accuracy (%)", title=f"Single-dimension scaling (paper Fig. 3): {title}")
            written["fig3"] = FIGURES["fig3"]
    grid = [e for e in summary if e["method"] == "grid"]
    if grid:
        series: dict[str, list] = defaultdict(list)
        for e in grid:
            series[f"d={e['grid_depth']:g}, r={e['grid_resolution']:g}"].append(
                (e["macs"] / 1e6, e["top1_mean"], e["top1_std"]))
        notes = {name: [f"w={e['grid_width']:g}" for e in sorted(
            (e for e in grid if f"d={e['grid_depth']:g}, r={e['grid_resolution']:g}" == name),
            key=lambda e: e["macs"])] for name in series}
        line_plot(series, output / FIGURES["fig4"], xlabel="MMACs (multiply-adds)", ylabel="top-1 accuracy (%)",
                  logx=True, title=f"Width scaling under different (d, r) (paper Fig. 4): {title}", annotate=notes)
        written["fig4"] = FIGURES["fig4"]
    return written


def _fmt_cost(entry: dict[str, Any]) -> str:
    return f"{entry['macs'] / 1e6:.1f}M"


def markdown(summary: list[dict[str, Any]], compare: list[dict[str, Any]], inputs: dict[str, Any],
             counts: dict[str, int], figures: dict[str, str], failed: list[dict[str, Any]],
             speed: dict[str, float] | None = None) -> str:
    proxy = inputs["proxy"]
    baseline = inputs["baseline"]["name"]
    failures = f", {counts['failed']} failed" if counts.get("failed") else ""
    overrides = f" ({' '.join(proxy['overrides'])})" if proxy["overrides"] else ""
    lines = [f"# Scaling study: {baseline}", "",
             f"Data `{proxy['data']}`, recipe `{proxy['recipe']}`{overrides}, "
             f"{proxy['epochs']} epoch(s) on {proxy['limit_train'] or 'all'} training images, scored on "
             f"{proxy['limit_val'] or 'all'} validation images; baseline at {inputs['baseline']['resolution']} px; "
             f"budgets {', '.join(f'{b:g}x' for b in inputs['budgets'])} of the baseline's "
             f"{'MACs' if inputs['budget_metric'] == 'macs' else 'measured latency'}; {inputs['seeds']} seed(s); "
             f"compound with alpha={inputs['alpha']:g}, beta={inputs['beta']:g}, gamma={inputs['gamma']:g}.",
             f"Trials: {counts['done']} of {counts['planned']} done{failures}"
             + (f"; {speed['trials_per_hour']} trials per hour over {speed['wall_hours']} h of wall clock."
                if speed and speed.get("trials_per_hour") else "."),
             "", "## Table 7 form: top-1 (mean +- std over seeds) per scaling method and budget", "",
             "| method | budget | d | w | r (px) | params | MACs | latency ms | top-1 | top-5 | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in summary:
        if e["method"] == "grid":
            continue
        lines.append(f"| {e['method']} | {e['budget']:g}x | {e['depth']:.3g} | {e['width']:.3g} | "
                     f"{e['resolution']:.3g} ({e['image_size']}) | {e['params'] / 1e6:.2f}M | {_fmt_cost(e)} | "
                     f"{e['latency_ms']:.2f} | {e['top1_mean']:.2f} +- {e['top1_std']:.2f} | "
                     f"{e['top5_mean']:.2f} | {e['trials']} |")
    if compare:
        lines += ["", "## Compound scaling against each single dimension at the same budget", "",
                  "| budget | against | compound top-1 | other top-1 | difference | spread (std of the difference) | "
                  "verdict |", "|---|---|---|---|---|---|---|"]
        for c in compare:
            if c["seeds"] < 2:
                verdict = "one seed: no spread to judge by"
            elif abs(c["difference"]) <= c["spread"]:
                verdict = "within the spread"
            else:
                verdict = "compound wins" if c["difference"] > 0 else "compound loses"
            lines.append(f"| {c['budget']:g}x | {c['against']} | {c['compound_top1']:.2f} | {c['other_top1']:.2f} | "
                         f"{c['difference']:+.2f} | {c['spread']:.2f} | {verdict} |")
    grid = [e for e in summary if e["method"] == "grid"]
    if grid:
        lines += ["", "## Width scaling under fixed (depth, resolution) (Fig. 4)", "",
                  "| d | r | w | MACs | top-1 |", "|---|---|---|---|---|"]
        lines += [f"| {e['grid_depth']:g} | {e['grid_resolution']:g} | {e['grid_width']:g} | {_fmt_cost(e)} | "
                  f"{e['top1_mean']:.2f} +- {e['top1_std']:.2f} |" for e in grid]
    if figures:
        lines += ["", "## Figures", ""] + [f"- `{name}`" for name in figures.values()]
    if failed:
        lines += ["", "## Failed trials", ""] + [f"- {f['params']}: {f['error']}" for f in failed]
    return "\n".join(lines) + "\n"


def write_outputs(engine: Engine, output: Path, counts: dict[str, int]) -> dict[str, Any]:
    """results.json, report.md and the figures from the study's finished trials; returns results.json's data."""
    records = engine.records()
    rows = trial_rows(records)
    summary = summary_rows(rows)
    compare = comparisons(summary)
    failed = [{"params": r.params, "error": r.metrics.get("error")} for r in records if r.state == "fail"]
    inputs = engine.plan.inputs
    figures = write_figures(summary, output, inputs["baseline"]["name"]) if summary else {}
    data = {"study": engine.plan.name, "inputs": inputs, "counts": counts, "throughput": throughput(records),
            "trials": rows, "summary": summary, "comparisons": compare, "failed": failed, "figures": figures}
    with atomic_path(output / RESULTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    with atomic_path(output / REPORT) as temp:
        temp.write_text(markdown(summary, compare, inputs, counts, figures, failed, data["throughput"]))
    return data


__all__ = ["FIGURES", "REPORT", "RESULTS", "comparisons", "markdown", "summary_rows", "trial_rows", "write_figures",
           "write_outputs"]
