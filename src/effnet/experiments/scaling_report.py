"""What a scaling study writes: `results.json` (every trial with its learning curve, validation and test scores,
and per network the mean +- std, nominal and effective (d, w, r), convergence flags), `report.md` (the paper's
Table 7 form; compound against each single dimension at equal cost as paired differences with 95% confidence
intervals, Holm-corrected, and the verdicts they allow; the fidelity check) and the figures: accuracy vs MACs per
method (Fig. 8), accuracy vs coefficient per dimension (Fig. 3), width scaling under fixed (d, r) (Fig. 4, grid
mode), and accuracy vs measured latency and vs activations.

Every number says its split: `val_*` is the held-out validation split (what any choice is made on), `test_*`
the test split, scored once per trial. The final tables and verdicts use the test split where there is one."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..engine import Engine, Record, score_text, summarize, throughput
from ..outputs import atomic_path
from .extrapolation import judge, predict_error
from .plots import line_plot, panels, prediction_plot
from .stats import LEVEL, NO_PAIR, NO_VERDICT, compare_family, kendall_tau

RESULTS, REPORT = "results.json", "report.md"
FIGURES = {"fig8": "fig8_accuracy_vs_macs.png", "fig3": "fig3_accuracy_vs_coefficient.png",
           "fig4": "fig4_width_grid.png", "latency": "accuracy_vs_latency.png",
           "activations": "accuracy_vs_activations.png", "extrapolation": "extrapolation_vs_macs.png"}
TRIAL_FIELDS = ("method", "budget", "seed", "schedule_epochs", "depth", "width", "resolution", "effective_depth",
                "effective_width", "effective_resolution", "image_size", "params", "macs", "activations",
                "latency_ms", "val_top1", "val_top5", "test_top1", "test_top5", "curve_rise", "steps", "seconds")
DIMENSIONS = ("depth", "width", "resolution")
NETWORK_FIELDS = ("depth", "width", "resolution", "effective_depth", "effective_width", "effective_resolution",
                  "image_size", "params", "macs", "activations", "latency_ms")
COST_TOLERANCE = 0.1  # compared networks whose MACs differ by more than this are said not to be at equal cost
ORDER = {"baseline": 0, "depth": 1, "width": 2, "resolution": 3, "compound": 4, "grid": 5}


def label(params: dict[str, Any]) -> str:
    """The name of a trial's network, shared by its seeds and schedules: `width@2x`, `baseline`,
    `grid-d2-r1.3-w1.8`."""
    if params["method"] == "grid":
        return f"grid-d{params['depth']:g}-r{params['resolution']:g}-w{params['width']:g}"
    if params["method"] == "baseline":
        return "baseline"
    return f"{params['method']}@{params['budget']:g}x"


def trial_name(params: dict[str, Any], main_epochs: int) -> str:
    """A trial as the report names it: `width@2x seed 1`, with its schedule when it is not the main one."""
    epochs = params.get("epochs") or main_epochs
    return f"{label(params)} seed {params['seed']}" + ("" if epochs == main_epochs else f", {epochs} epochs")


def unfinished(failures: list[dict[str, Any]], main_epochs: int) -> list[tuple[str, str]]:
    """The planned trials with no result yet ({"params", "error"} of their failed attempts, oldest first), once
    each, with how their latest attempt ended."""
    latest = {trial_name(f["params"], main_epochs): str(f["error"]) for f in failures}
    return list(latest.items())


def trial_rows(records: list[Record]) -> list[dict[str, Any]]:
    """The finished trials, one flat row each (the fields results.json promises first, the curve last)."""
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


def network_key(row: dict[str, Any]) -> tuple:
    if row["method"] == "grid":
        return ("grid", row["grid_depth"], row["grid_resolution"], row["grid_width"])
    return (row["method"], row["budget"])


def network_name(key: tuple) -> str:
    if key[0] == "grid":
        return f"grid d{key[1]:g} r{key[2]:g} w{key[3]:g}"
    return "baseline" if key[0] == "baseline" else f"{key[0]}@{key[1]:g}x"


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    mean, std = summarize(present)
    return round(mean, 3), round(std, 3)


def summary_rows(rows: list[dict[str, Any]], converged_within: float = 0.5) -> list[dict[str, Any]]:
    """Per network and schedule: mean +- std over seeds of validation and test top-1 / top-5, how many seeds were
    still improving at the end, with the network's cost and its nominal and effective coefficients."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(*network_key(row), row.get("schedule_epochs"))].append(row)
    summary = []
    for key, members in groups.items():
        first = members[0]
        entry: dict[str, Any] = {"method": first["method"], "budget": first["budget"],
                                 "schedule_epochs": first.get("schedule_epochs"), "trials": len(members),
                                 "seeds": sorted(m["seed"] for m in members)}
        for metric in ("val_top1", "val_top5", "test_top1", "test_top5"):
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = _mean_std([m.get(metric) for m in members])
        rises = [m.get("curve_rise") for m in members]
        entry["still_improving"] = sum(r is not None and r > converged_within for r in rises)
        entry["curve_unknown"] = sum(r is None for r in rises)
        entry.update({name: first.get(name) for name in NETWORK_FIELDS})
        entry["seconds_mean"] = round(summarize([m["seconds"] for m in members])[0], 1)
        if key[0] == "grid":
            entry.update(grid_depth=key[1], grid_resolution=key[2], grid_width=key[3])
        summary.append(entry)
    return sorted(summary, key=lambda e: (-(e["schedule_epochs"] or 0), e["budget"], ORDER.get(e["method"], 9),
                                          e.get("grid_depth", 0), e.get("grid_resolution", 0),
                                          e.get("grid_width", 0)))


def score_split(rows: list[dict[str, Any]]) -> str:
    """The split the final tables use: test when the trials have one, else validation."""
    return "test" if rows and all(r.get("test_top1") is not None for r in rows) else "val"


def comparisons(rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """Compound against each single dimension at the same budget, paired by seed on `split` top-1, Holm-corrected
    across the family; each with its verdict."""
    metric = f"{split}_top1"
    by: dict[tuple, dict[int, float]] = defaultdict(dict)
    for row in rows:
        if row["method"] != "grid":
            by[(row["method"], row["budget"])][row["seed"]] = row[metric]
    pairs, meta = [], []
    for budget in sorted({b for m, b in by if m == "compound"}):
        for dimension in DIMENSIONS:
            if (dimension, budget) not in by:
                continue
            compound, other = by[("compound", budget)], by[(dimension, budget)]
            seeds = sorted(set(compound) & set(other))
            pairs.append(([compound[s] for s in seeds], [other[s] for s in seeds]))
            meta.append({"budget": budget, "against": dimension, "seeds": seeds, "split": split})
    return [{**m, **c} for m, c in zip(meta, compare_family(pairs))]


def fidelity_check(rows: list[dict[str, Any]], main_epochs: int, split: str) -> list[dict[str, Any]]:
    """For each other schedule: Kendall's tau between the networks' mean validation top-1 there and at the main
    schedule, and the verdicts that change (a comparison without a verdict on either side has none to change)."""
    main = [r for r in rows if r.get("schedule_epochs") == main_epochs]
    main_verdicts = {(c["budget"], c["against"]): c["verdict"] for c in comparisons(main, split)}
    out = []
    for epochs in sorted({r.get("schedule_epochs") for r in rows} - {main_epochs, None}):
        other = [r for r in rows if r.get("schedule_epochs") == epochs]
        means: dict[tuple, list[float]] = {}
        for subset, slot in ((main, 0), (other, 1)):
            groups: dict[tuple, list[float]] = defaultdict(list)
            for r in subset:
                groups[network_key(r)].append(r["val_top1"])
            for key, values in groups.items():
                means.setdefault(key, [None, None])[slot] = sum(values) / len(values)  # type: ignore[list-item]
        shared = sorted(key for key, pair in means.items() if None not in pair)
        tau = kendall_tau([means[k][0] for k in shared], [means[k][1] for k in shared])
        verdicts = comparisons(other, split)
        changed = [{"budget": c["budget"], "against": c["against"], "main": main_verdicts.get((c["budget"],
                    c["against"])), "here": c["verdict"]} for c in verdicts
                   if main_verdicts.get((c["budget"], c["against"])) not in (None, NO_VERDICT, NO_PAIR, c["verdict"])
                   and c["verdict"] not in (NO_VERDICT, NO_PAIR)]
        out.append({"epochs": epochs, "networks": len(shared), "kendall_tau_val": tau, "verdicts": verdicts,
                    "changed_verdicts": changed})
    return out


def _series(summary: list[dict[str, Any]], x: str, methods: tuple[str, ...], split: str,
            suffix: str = "") -> dict[str, list]:
    """Per method, (x, mean top-1, std) points, each line starting at the shared baseline."""
    metric = f"{split}_top1"
    baseline = [e for e in summary if e["method"] == "baseline"]
    series: dict[str, list] = {}
    for method in methods:
        points = [(float(e[x]), e[f"{metric}_mean"], e[f"{metric}_std"]) for e in summary if e["method"] == method]
        if points:
            series[method + suffix] = [(float(b[x]), b[f"{metric}_mean"], b[f"{metric}_std"])
                                       for b in baseline] + points
    return series


def write_prediction_figure(summary: list[dict[str, Any]], output: Path, title: str, main_epochs: int,
                            extrapolation: dict[str, Any] | None) -> dict[str, str]:
    """Validation top-1 against MACs for each extrapolated method: its 1x-4x networks, the law fitted per seed
    (averaged over seeds) drawn out to the larger budget, the prediction with its interval, the seeds measured."""
    results = (extrapolation or {}).get("methods_results") or {}
    main = [e for e in summary if e["schedule_epochs"] == main_epochs]
    measured = {m: [(x / 1e6, mean, std) for x, mean, std in points]
                for m, points in _series(main, "macs", tuple(results), "val").items()}
    if not measured:
        return {}
    curves, predicted, observed = {}, {}, {}
    for method, r in results.items():
        fits = list((r.get("fits") or {}).values())
        start = min((x for x, _, _ in measured.get(method, [])), default=r["target_macs"] / 1e6)
        xs = [start * (r["target_macs"] / 1e6 / start) ** (i / 40) for i in range(41)]
        if fits:
            curves[method] = [(x, sum(100.0 - predict_error((f["a"], f["b"]), x * 1e6) for f in fits) / len(fits))
                              for x in xs]
        if r.get("mean") is not None:
            low = r["low"] if r.get("low") is not None else r["mean"]
            high = r["high"] if r.get("high") is not None else r["mean"]
            predicted[method] = (r["target_macs"] / 1e6, r["mean"], low, high)
        observed[method] = [(r["target_macs"] / 1e6, v) for v in r.get("measured") or []]
    note = (f"prediction from the {main_epochs}-epoch networks, written before the "
            f"{extrapolation['budget']:g}x networks trained; mean +- std over seeds, validation split")
    prediction_plot(measured, curves, predicted, observed, output / FIGURES["extrapolation"],
                    xlabel="MMACs (multiply-adds)", ylabel="val top-1 accuracy (%)",
                    title=f"Predict, then measure at {extrapolation['budget']:g}x: {title}", note=note)
    return {"extrapolation": FIGURES["extrapolation"]}


def scale_note(inputs: dict[str, Any], split: str, trials: int) -> str:
    """The scale a figure was made at, written on it: seeds, schedule, data, split."""
    proxy = inputs["proxy"]
    smoke = " -- SMOKE SCALE, not a result" if proxy.get("limit_train") and proxy["limit_train"] < 10_000 else ""
    return (f"{inputs['seeds']} seed(s), {proxy['epochs']} epoch(s) on {proxy.get('limit_train') or 'all'} training "
            f"images of {proxy['data']}, {trials} trials; mean +- std over seeds on the {split} split{smoke}")


def write_figures(summary: list[dict[str, Any]], output: Path, title: str, split: str,
                  main_epochs: int, note: str = "", extrapolation: dict[str, Any] | None = None) -> dict[str, str]:
    """The paper's figures from the summary rows (and, with `extrapolation`, its prediction against the
    measurement); returns the names written, by key of FIGURES."""
    methods = ("depth", "width", "resolution", "compound")
    main = [e for e in summary if e["schedule_epochs"] == main_epochs]
    others = sorted({e["schedule_epochs"] for e in summary} - {main_epochs})
    ylabel = f"{split} top-1 accuracy (%)"
    written = {}
    fig8 = _series(main, "macs", methods, split)
    if fig8:
        series = {k: [(x / 1e6, m, s) for x, m, s in v] for k, v in fig8.items()}
        for epochs in others:  # the fidelity check: the same networks at another schedule length
            low = _series([e for e in summary if e["schedule_epochs"] == epochs], "macs", methods, split,
                          f" ({epochs} ep)")
            series.update({k: [(x / 1e6, m, s) for x, m, s in v] for k, v in low.items()})
        budgets = {k: [f"{b['budget']:g}x" for b in sorted(
            (e for e in main if e["method"] in ("baseline", k)), key=lambda e: e["macs"])] for k in fig8}
        line_plot(series, output / FIGURES["fig8"], xlabel="MMACs (multiply-adds)", ylabel=ylabel, logx=True,
                  title=f"Scaling methods at equal MACs (paper Fig. 8): {title}", annotate=budgets, note=note)
        written["fig8"] = FIGURES["fig8"]
        line_plot(_series(main, "latency_ms", methods, split), output / FIGURES["latency"],
                  xlabel="measured latency, batch 1, 1 thread (ms)", ylabel=ylabel, logx=True,
                  title=f"Accuracy vs measured latency: {title}", note=note)
        written["latency"] = FIGURES["latency"]
        line_plot({k: [(x / 1e6, m, s) for x, m, s in v]
                   for k, v in _series(main, "activations", methods, split).items()},
                  output / FIGURES["activations"], xlabel="activations (millions, Dollar et al. 2021)",
                  ylabel=ylabel, logx=True, title=f"Accuracy vs activations: {title}", note=note)
        written["activations"] = FIGURES["activations"]
        metric = f"{split}_top1"
        groups = {dim: {dim: [(e[dim], e[f"{metric}_mean"], e[f"{metric}_std"]) for e in main
                              if e["method"] in (dim, "baseline")]} for dim in DIMENSIONS
                  if any(e["method"] == dim for e in main)}
        if groups:
            panels(groups, output / FIGURES["fig3"], xlabels={d: f"{d} coefficient ({d[0]})" for d in DIMENSIONS},
                   ylabel=ylabel, title=f"Single-dimension scaling (paper Fig. 3): {title}", note=note)
            written["fig3"] = FIGURES["fig3"]
    grid = [e for e in main if e["method"] == "grid"]
    if grid:
        metric = f"{split}_top1"
        series_grid: dict[str, list] = defaultdict(list)
        for e in grid:
            series_grid[f"d={e['grid_depth']:g}, r={e['grid_resolution']:g}"].append(
                (e["macs"] / 1e6, e[f"{metric}_mean"], e[f"{metric}_std"]))
        notes = {name: [f"w={e['grid_width']:g}" for e in sorted(
            (e for e in grid if f"d={e['grid_depth']:g}, r={e['grid_resolution']:g}" == name),
            key=lambda e: e["macs"])] for name in series_grid}
        line_plot(series_grid, output / FIGURES["fig4"], xlabel="MMACs (multiply-adds)", ylabel=ylabel, logx=True,
                  title=f"Width scaling under different (d, r) (paper Fig. 4): {title}", annotate=notes, note=note)
        written["fig4"] = FIGURES["fig4"]
    written.update(write_prediction_figure(summary, output, title, main_epochs, extrapolation))
    return written


def _score(entry: dict[str, Any], metric: str) -> str:
    return score_text(entry.get(f"{metric}_mean"), entry.get(f"{metric}_std"), entry.get("trials", 0))


def _interval(c: dict[str, Any]) -> str:
    if c["mean"] is None:
        return "- (no seed in common)"
    if c["low"] is None:
        return f"{c['mean']:+.2f} (one seed: no interval)"
    return f"{c['mean']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"


def conclusion(compare: list[dict[str, Any]], summary: list[dict[str, Any]], split: str) -> list[str]:
    """The verdicts in words, exactly as strong as the intervals allow, with what limits them."""
    if not compare:
        return []
    lines = []
    better = [c for c in compare if c["verdict"] == "better"]
    worse = [c for c in compare if c["verdict"] == "worse"]
    unclear = [c for c in compare if c["verdict"] == "not distinguishable"]
    name = {"better": "beats", "worse": "is beaten by"}
    for group in (better, worse):
        for c in group:
            lines.append(f"- At {c['budget']:g}x, compound scaling {name[c['verdict']]} {c['against']} scaling on the "
                         f"{split} split: {c['mean']:+.2f} points, 95% CI [{c['low']:+.2f}, {c['high']:+.2f}], "
                         f"Holm-adjusted p = {c['p_holm']:.3g}, {c['n']} paired seeds.")
    if unclear:
        names = ", ".join(f"{c['against']} at {c['budget']:g}x" for c in unclear)
        lines.append(f"- Compound scaling cannot be told apart from {names} at this number of seeds "
                     f"(Holm-corrected, family-wise error {1 - LEVEL:.0%}).")
        alone = [c for c in unclear if c["low"] is not None and (c["low"] > 0 or c["high"] < 0)]
        if alone:  # the table's interval is each comparison's own; the verdict answers for all of them together
            names = ", ".join(f"{c['against']} at {c['budget']:g}x (p = {c['p']:.2g}, Holm {c['p_holm']:.2g})"
                              for c in alone)
            lines.append(f"- Against {names} the interval alone excludes 0, but not once corrected for the "
                         f"{len(compare)} comparisons of this report: a lean, not a verdict.")
    single = [c for c in compare if c["n"] < 2]
    if single:
        names = ", ".join(f"{c['against']} at {c['budget']:g}x" for c in single)
        lines.append(f"- No verdict yet against {names}: fewer than two paired seeds give no interval.")
    lines += unequal_costs(compare, summary)
    flagged = [e for e in summary if e["still_improving"]]
    if flagged:
        networks = ", ".join(f"{network_name((e['method'], e['budget']))} ({e['still_improving']} of {e['trials']})"
                             for e in flagged if e["method"] != "grid")
        lines.append(f"- Still improving at the end of the schedule (validation top-1 rose by more than "
                     f"`converged_within` over its last quarter): {networks or 'grid networks'}. Under a decaying "
                     "learning rate part of that rise is the decay itself, not a schedule too short; whether a longer "
                     "one changes the result is what the convergence check (`effnet experiment convergence`) measures. "
                     "The ranking may change with a longer schedule.")
    elif summary and all(e["curve_unknown"] == e["trials"] for e in summary):
        lines.append("- The learning curves have too few points to tell whether the schedule was long enough.")
    return lines


def unequal_costs(compare: list[dict[str, Any]], summary: list[dict[str, Any]]) -> list[str]:
    """A line for each comparison whose two networks missed equal MACs by more than `COST_TOLERANCE`: rounding
    (repeats, channels, pixels) makes MACs a step function, and on a small baseline a step can be a quarter of the
    budget, so such a verdict compares unequal compute."""
    macs = {(e["method"], e["budget"]): e["macs"] for e in summary}
    lines = []
    for c in compare:
        mine, other = macs.get(("compound", c["budget"])), macs.get((c["against"], c["budget"]))
        if mine and other and abs(mine / other - 1) > COST_TOLERANCE:
            lines.append(f"- Not at equal cost: at {c['budget']:g}x compound has {mine / 1e6:.1f}M MACs and "
                         f"{c['against']} {other / 1e6:.1f}M ({mine / other - 1:+.0%}); the rounding of repeats, "
                         "channels and pixels leaves no closer network (nearest repeat rounding or another budget "
                         "may), so this verdict compares unequal compute.")
    return lines


def markdown(data: dict[str, Any]) -> str:
    inputs, counts = data["inputs"], data["counts"]
    proxy, split = inputs["proxy"], data["score_split"]
    main_epochs = proxy["epochs"]
    summary = [e for e in data["summary"] if e["schedule_epochs"] == main_epochs]
    speed = data.get("throughput")
    overrides = f" ({' '.join(proxy['overrides'])})" if proxy["overrides"] else ""
    trouble = "".join(f", {counts[k]} {k}" for k in ("failed", "interrupted") if counts.get(k))
    validation = (f"validated on {data['data'].get('val_source', 'a held-out split')}"
                  if data.get("data") else f"validated on the {proxy.get('val_split', 'dataset')} split")
    limit_val = f" (the first {proxy['limit_val']:,} images)" if proxy["limit_val"] else ""
    lines = [f"# Scaling study: {inputs['baseline']['name']}", "",
             f"Data `{proxy['data']}`, recipe `{proxy['recipe']}`{overrides}, {main_epochs} epoch(s) on "
             f"{proxy['limit_train'] or 'all'} training images, {validation}{limit_val}, "
             f"test split scored once per trial; baseline at "
             f"{inputs['baseline']['resolution']} px; budgets {', '.join(f'{b:g}x' for b in inputs['budgets'])} of "
             f"the baseline's {'MACs' if inputs['budget_metric'] == 'macs' else 'measured latency'} (classifier of "
             f"{inputs.get('num_classes')} classes); {inputs['seeds']} seed(s), paired across methods; compound "
             f"with alpha={inputs['alpha']:g}, beta={inputs['beta']:g}, gamma={inputs['gamma']:g}, repeats rounded "
             f"by {inputs.get('repeat_rounding', 'ceil')}.",
             f"Trials: {counts['done']} of {counts['planned']} done{trouble}"
             + (f"; {speed['trials_per_hour']} trials per hour over {speed['wall_hours']} h of wall clock."
                if speed and speed.get("trials_per_hour") else "."), "",
             f"Final numbers are on the **{split}** split" + (" (no test split: validation)." if split == "val"
                                                               else "; validation numbers are what choices use."),
             "", "## Table 7 form: top-1 (mean +- std over seeds) per scaling method and budget", "",
             "| method | budget | d (effective) | w (effective) | r (effective, px) | params | MACs | latency ms | "
             "val top-1 | test top-1 | still improving | seeds |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in summary:
        if e["method"] == "grid":
            continue
        lines.append(f"| {e['method']} | {e['budget']:g}x | {e['depth']:.3g} ({e['effective_depth']:.3g}) | "
                     f"{e['width']:.3g} ({e['effective_width']:.3g}) | {e['resolution']:.3g} "
                     f"({e['effective_resolution']:.3g}, {e['image_size']}) | {e['params'] / 1e6:.2f}M | "
                     f"{e['macs'] / 1e6:.1f}M | {e['latency_ms']:.2f} | {_score(e, 'val_top1')} | "
                     f"{_score(e, 'test_top1')} | {e['still_improving']} of {e['trials']} | {e['trials']} |")
    compare = data["comparisons"]
    if compare:
        lines += ["", f"## Compound scaling against each single dimension at the same budget ({split} split)", "",
                  f"Paired by seed: the mean difference (compound minus the other) with its {LEVEL:.0%} Student-t "
                  "interval; p-values Holm-corrected across the comparisons below.", "",
                  "| budget | against | compound | other | difference [95% CI] | p (Holm) | verdict |",
                  "|---|---|---|---|---|---|---|"]
        by = {(e["method"], e["budget"]): e for e in summary}
        for c in compare:
            mine, other = by.get(("compound", c["budget"]), {}), by.get((c["against"], c["budget"]), {})
            p = "-" if c["p_holm"] is None else f"{c['p_holm']:.3g}"
            lines.append(f"| {c['budget']:g}x | {c['against']} | {_score(mine, f'{split}_top1')} | "
                         f"{_score(other, f'{split}_top1')} | {_interval(c)} | {p} | {c['verdict']} |")
        lines += ["", "### What this shows", "", *conclusion(compare, summary, split)]
    for check in data.get("fidelity", []):
        lines += ["", f"## Fidelity check: the same networks at {check['epochs']} epochs", "",
                  f"Rank agreement of the networks' mean validation top-1 with the {main_epochs}-epoch schedule: "
                  f"Kendall tau = {check['kendall_tau_val'] if check['kendall_tau_val'] is not None else '-'} over "
                  f"{check['networks']} networks."]
        if check["changed_verdicts"]:
            lines.append("Verdicts that differ: " + "; ".join(
                f"{c['against']} at {c['budget']:g}x ({c['main']} at {main_epochs} epochs, {c['here']} here)"
                for c in check["changed_verdicts"]) + ". The ranking depends on the schedule length.")
        elif check["verdicts"]:
            lines.append("No verdict differs between the two schedule lengths.")
    lines += extrapolation_lines(data.get("extrapolation"))
    grid = [e for e in summary if e["method"] == "grid"]
    if grid:
        lines += ["", "## Width scaling under fixed (depth, resolution) (Fig. 4)", "",
                  "| d | r | w | MACs | val top-1 | test top-1 |", "|---|---|---|---|---|---|"]
        lines += [f"| {e['grid_depth']:g} | {e['grid_resolution']:g} | {e['grid_width']:g} | "
                  f"{e['macs'] / 1e6:.1f}M | {_score(e, 'val_top1')} | {_score(e, 'test_top1')} |" for e in grid]
    if data["figures"]:
        lines += ["", "## Figures", ""] + [f"- `{name}`" for name in data["figures"].values()]
    if data["failed"]:
        lines += ["", "## Trials without a result yet (the same command runs them again)", ""]
        lines += [f"- {name}: {error}" for name, error in unfinished(data["failed"], main_epochs)]
    return "\n".join(lines) + "\n"


def extrapolation_lines(extrapolation: dict[str, Any] | None) -> list[str]:
    """The "predict, then measure" section: each method's predicted validation top-1 at the larger budget (a power
    law in MACs fitted per seed on 1x-4x), its interval over seeds, and what training it there gave."""
    if not extrapolation:
        return []
    lines = ["", f"## Predict, then measure: {extrapolation['budget']:g}x", "",
             f"Validation error against MACs ({extrapolation['fit']}, on the baseline and the method's networks) "
             "predicts each method at the larger budget; the prediction is written before that network trains "
             "(fresh trials, the same proxy), and the measured columns fill in as its trials finish.", "",
             "| method | MMACs | predicted val top-1 [95% CI] | measured val top-1 (seeds) | "
             "measured - predicted [95% CI, Welch] | verdict |",
             "|---|---|---|---|---|---|"]
    for method, r in extrapolation["methods_results"].items():
        if r.get("measured"):  # judged again under today's rules (a results.json may predate them)
            r = {**r, **judge(r, r["measured"])}
        interval = "-" if r["mean"] is None else (f"{r['mean']:.2f}" if r["low"] is None else
                                                   f"{r['mean']:.2f} [{r['low']:.2f}, {r['high']:.2f}]")
        measured = ("-" if r.get("measured_mean") is None else
                    f"{r['measured_mean']:.2f} ({len(r.get('measured') or [])})")
        lines.append(f"| {method} | {r['target_macs'] / 1e6:.1f} | {interval} | {measured} | "
                     f"{_law_difference(r)} | {r.get('verdict') or '-'} |")
    costs = {m: r["target_macs"] for m, r in extrapolation["methods_results"].items()}
    if costs and max(costs.values()) / min(costs.values()) - 1 > COST_TOLERANCE:  # the comparisons' rule
        lines += ["", "Not at equal cost: rounding builds " + ", ".join(
            f"{m} at {c / max(costs.values()):.2f}x" for m, c in costs.items()) + " the largest network's MACs, so "
            "the methods' measurements at this budget are not a comparison at equal cost."]
    lines += ["", "Three points per method determine a power law but not a floor: a measurement below the prediction "
              "says the law does not carry this far, not that the method failed. The interval of measured minus "
              "predicted counts the noise of both the measured seeds and the seeds' predictions."]
    return lines


def _law_difference(r: dict[str, Any]) -> str:
    difference = r.get("difference")
    if difference is None:
        return "-"
    if difference["low"] is None:
        return f"{difference['mean']:+.2f} (one seed: no interval)"
    return f"{difference['mean']:+.2f} [{difference['low']:+.2f}, {difference['high']:+.2f}]"


def analyse(rows: list[dict[str, Any]], inputs: dict[str, Any]) -> dict[str, Any]:
    """The summary table, the paired comparisons and the fidelity check from the finished trials' rows, under
    today's rules: the study and `effnet report` both call it, so a report written again applies them too."""
    main_epochs = inputs["proxy"]["epochs"]
    for row in rows:
        row["schedule_epochs"] = row.get("schedule_epochs") or main_epochs
    main_rows = [r for r in rows if r["schedule_epochs"] == main_epochs]
    split = score_split(main_rows)
    compare = comparisons(main_rows, split)
    return {"score_split": split, "summary": summary_rows(rows, inputs.get("converged_within", 0.5)),
            "comparisons": compare, "comparisons_val": comparisons(main_rows, "val") if split == "test" else compare,
            "fidelity": fidelity_check(rows, main_epochs, split)}


def write_outputs(engine: Engine, output: Path, counts: dict[str, int],
                  extrapolation: dict[str, Any] | None = None) -> dict[str, Any]:
    """results.json, report.md and the figures from the study's finished trials (and the prediction against the
    measurement at a larger budget, when there is one); returns results.json's data."""
    records = engine.records()
    rows = trial_rows(records)
    inputs = engine.plan.inputs
    analysis = analyse(rows, inputs)
    split, summary = analysis["score_split"], analysis["summary"]
    failed = [{"params": r.params, "error": r.metrics.get("error")} for r in records if r.state == "fail"]
    note = scale_note(inputs, split, len(rows))
    figures = (write_figures(summary, output, inputs["baseline"]["name"], split, inputs["proxy"]["epochs"], note,
                             extrapolation) if summary else {})
    data = {"study": engine.plan.name, "inputs": inputs, "counts": counts, "throughput": throughput(records),
            "data": engine.all_derived().get("data"), **analysis, "failed": failed, "figures": figures,
            **({"extrapolation": extrapolation} if extrapolation else {}), "trials": rows}
    with atomic_path(output / RESULTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    with atomic_path(output / REPORT) as temp:
        temp.write_text(markdown(data))
    return data


__all__ = ["FIGURES", "REPORT", "RESULTS", "analyse", "comparisons", "conclusion", "fidelity_check", "label",
           "markdown", "score_split", "summary_rows", "trial_name", "trial_rows", "unfinished", "write_figures",
           "write_outputs"]
