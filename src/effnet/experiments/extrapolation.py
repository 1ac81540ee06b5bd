"""Predict, then measure: from a scaling study's 1x / 2x / 4x results, fit each method's validation error against
MACs and predict it at a larger budget, with an interval from the seeds; then train that network and compare.

The fit is a power law in MACs, error = a * MACs^(-b) (a line in log-log space, least squares), done for each seed
separately on that seed's baseline and scaled networks, so the seeds' spread of the prediction gives a Student-t
interval. A saturating law (with a floor) needs more than three points to be determined, and a study has three
per method; the report says so. The measurement is judged by measured minus predicted with Welch's interval
(the measured seeds and the predicting seeds are both noisy): an interval without 0 says the law missed here."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .stats import NO_VERDICT, paired_difference, unpaired_difference


def fit_power_law(macs: Sequence[float], errors: Sequence[float]) -> tuple[float, float] | None:
    """(a, b) of error = a * macs^(-b), least squares in log-log space; None with fewer than two points or a
    non-positive value."""
    points = [(math.log(m), math.log(e)) for m, e in zip(macs, errors) if m > 0 and e > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return math.exp(mean_y - slope * mean_x), -slope


def predict_error(fit: tuple[float, float], macs: float) -> float:
    a, b = fit
    return a * macs ** (-b)


def predictions(rows: list[dict[str, Any]], target_macs: dict[str, float], metric: str = "val_top1"
                ) -> dict[str, dict[str, Any]]:
    """Per method, the predicted top-1 at its `target_macs` (each seed fitted on the baseline and the method's
    networks), the mean with its 95% interval over seeds, and the per-seed fits."""
    by_seed: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    base = {r["seed"]: (r["macs"], 100.0 - r[metric]) for r in rows if r["method"] == "baseline"}
    for r in rows:
        if r["method"] not in ("baseline", "grid") and r.get(metric) is not None:
            by_seed[(r["method"], r["seed"])].append((r["macs"], 100.0 - r[metric]))
    out: dict[str, dict[str, Any]] = {}
    for method, macs in target_macs.items():
        predicted, fits = [], {}
        for (name, seed), points in sorted(by_seed.items()):
            if name != method or seed not in base:
                continue
            xs, ys = zip(*([base[seed], *sorted(points)]))
            fit = fit_power_law(xs, ys)
            if fit is None:
                continue
            fits[seed] = {"a": fit[0], "b": fit[1], "points": len(xs)}
            predicted.append(100.0 - predict_error(fit, macs))
        interval = paired_difference(predicted, [0.0] * len(predicted))
        out[method] = {"target_macs": macs, "predicted_top1": predicted, "seeds": sorted(fits), "fits": fits,
                       "mean": interval["mean"], "low": interval["low"], "high": interval["high"]}
    return out


def judge(predicted: dict[str, Any], measured: Sequence[float]) -> dict[str, Any]:
    """The measurement against the prediction: its mean, and measured minus predicted with Welch's interval over
    both sets of seeds (both are noisy; whether the mean falls inside the prediction's interval alone would ignore
    the measurement's own noise), whose verdict says whether the law missed."""
    if not measured or predicted["mean"] is None:
        return {"measured_mean": None, "difference": None, "verdict": None}
    difference = unpaired_difference(list(measured), predicted["predicted_top1"])
    return {"measured_mean": round(sum(measured) / len(measured), 4), "measured": list(measured),
            "difference": difference, "verdict": law_verdict(difference)}


def law_verdict(difference: dict[str, Any]) -> str:
    """"as predicted" when the interval of measured minus predicted holds 0, else "above/below the prediction";
    "no verdict" without an interval (one seed on a side)."""
    if difference["low"] is None:
        return NO_VERDICT
    if difference["low"] <= 0 <= difference["high"]:
        return "as predicted"
    return "above the prediction" if difference["mean"] > 0 else "below the prediction"


__all__ = ["fit_power_law", "judge", "law_verdict", "predict_error", "predictions"]
