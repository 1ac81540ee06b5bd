"""The statistics a study's verdicts rest on: paired differences with Student-t confidence intervals, Holm's
correction across the comparisons of one report, the verdict they allow, and rank agreement (Kendall's tau).

Methods trained with the same seed see the same data order and augmentation, so their results are compared in pairs:
the difference per seed, its mean, and the t interval of that mean (n - 1 degrees of freedom). With one seed there
is no interval, so no verdict either: "no verdict (one seed)" -- or "no verdict (no paired seed)" before the two
share a seed -- never "not distinguishable", which would claim a test that was not made. Samples that share no
pairing (a measurement against a prediction) get Welch's interval instead."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scipy import stats as scipy_stats

LEVEL = 0.95  # confidence level of every interval, and 1 - the family-wise error rate of the verdicts


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """Mean of a[i] - b[i] over the pairs, its `level` Student-t interval, the two-sided p-value of "no difference"
    and the number of pairs; interval and p are None with fewer than two pairs."""
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    diffs = [float(x) - float(y) for x, y in zip(a, b)]
    n = len(diffs)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "p": None, "n": 0, "sd": None}
    mean = sum(diffs) / n
    if n < 2:
        return {"mean": round(mean, 4), "low": None, "high": None, "p": None, "n": 1, "sd": None}
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    se = sd / math.sqrt(n)
    t = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1))
    exact = 1.0 if mean == 0.0 else 0.0  # no spread at all: either no difference or a certain one
    p = exact if se == 0.0 else float(2 * scipy_stats.t.sf(abs(mean) / se, n - 1))
    return {"mean": round(mean, 4), "low": round(mean - t * se, 4), "high": round(mean + t * se, 4),
            "p": round(p, 6), "n": n, "sd": round(sd, 4)}


def unpaired_difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """Mean of a minus mean of b for two independent samples, Welch's `level` interval (unequal variances,
    Welch-Satterthwaite degrees of freedom) and its two-sided p; interval and p are None with fewer than two values
    on either side."""
    if not a or not b:
        return {"mean": None, "low": None, "high": None, "p": None, "n": (len(a), len(b))}
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    mean = mean_a - mean_b
    if len(a) < 2 or len(b) < 2:
        return {"mean": round(mean, 4), "low": None, "high": None, "p": None, "n": (len(a), len(b))}
    shares = [sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs) for xs, m in ((a, mean_a), (b, mean_b))]
    se = math.sqrt(sum(shares))
    if se == 0.0:
        return {"mean": round(mean, 4), "low": round(mean, 4), "high": round(mean, 4),
                "p": 1.0 if mean == 0.0 else 0.0, "n": (len(a), len(b))}
    df = se ** 4 / sum(share ** 2 / (len(xs) - 1) for share, xs in zip(shares, (a, b)) if share > 0)
    t = float(scipy_stats.t.ppf(0.5 + level / 2, df))
    p = float(2 * scipy_stats.t.sf(abs(mean) / se, df))
    return {"mean": round(mean, 4), "low": round(mean - t * se, 4), "high": round(mean + t * se, 4),
            "p": round(p, 6), "n": (len(a), len(b))}


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None): rejecting where adjusted p < 1 - LEVEL keeps the
    chance of any false "better" or "worse" among the family below that level."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, index) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = round(running, 6)
    return adjusted


NO_VERDICT = "no verdict (one seed)"  # fewer than two pairs: nothing was tested
NO_PAIR = "no verdict (no paired seed)"  # not one seed trained for both yet


def verdict(difference: dict[str, Any], adjusted_p: float | None, level: float = LEVEL) -> str:
    """"better", "worse" or "not distinguishable" for the first of a compared pair, from its Holm-adjusted p;
    `NO_VERDICT` below two pairs, `NO_PAIR` without any."""
    if not difference.get("n") or difference.get("mean") is None:
        return NO_PAIR
    if difference["n"] < 2:
        return NO_VERDICT
    if adjusted_p is None or adjusted_p >= 1 - level:
        return "not distinguishable"
    return "better" if difference["mean"] > 0 else "worse"


def compare_family(pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
                   level: float = LEVEL) -> list[dict[str, Any]]:
    """Paired differences for a family of comparisons, Holm-adjusted together, each with its verdict."""
    differences = [paired_difference(a, b, level) for a, b in pairs]
    adjusted = holm([d["p"] for d in differences])
    return [{**d, "p_holm": p, "verdict": verdict(d, p, level)} for d, p in zip(differences, adjusted)]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b between two scorings of the same items (None for fewer than two, or no variation)."""
    if len(x) != len(y):
        raise ValueError("kendall_tau needs two scorings of the same items")
    if len(x) < 2:
        return None
    tau = scipy_stats.kendalltau(list(x), list(y)).statistic
    return None if tau is None or not math.isfinite(float(tau)) else round(float(tau), 4)


__all__ = ["LEVEL", "NO_PAIR", "NO_VERDICT", "compare_family", "holm", "kendall_tau", "paired_difference",
           "unpaired_difference", "verdict"]
