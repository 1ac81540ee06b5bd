"""Figures of studies as PNG files, written atomically. matplotlib's object API renders with Agg and never
touches pyplot's global state, so no display is needed and a user's own backend is left alone."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

from ..outputs import atomic_path

Series = Mapping[str, Sequence[tuple[float, float, float]]]  # label -> [(x, mean, std), ...]


def line_plot(series: Series, path: Path, *, xlabel: str, ylabel: str, title: str, logx: bool = False,
              annotate: Mapping[str, Sequence[str]] | None = None, note: str = "") -> Path:
    """One line per series, mean with +-std error bars, points sorted by x; optional text beside each point, and
    `note` (the scale: seeds, schedule, split) under the axes so that no figure can be mistaken for another."""
    figure = Figure(figsize=(6.4, 4.8), dpi=120)
    axes = figure.subplots()
    _lines(axes, series)
    for name, points in series.items():
        for (x, y, _), text in zip(sorted(points), (annotate or {}).get(name, ())):
            axes.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    xs = [x for points in series.values() for x, _, _ in points]
    return _finish(figure, axes, path, xlabel=xlabel, ylabel=ylabel, title=title, logx=logx and _wide(xs), note=note)


def panels(groups: Mapping[str, Series], path: Path, *, xlabels: Mapping[str, str], ylabel: str,
           title: str, note: str = "") -> Path:
    """Side-by-side panels, one per group (e.g. Fig. 3: one per scaling dimension)."""
    figure = Figure(figsize=(4.2 * max(1, len(groups)), 3.8), dpi=120)
    axes = figure.subplots(1, max(1, len(groups)), squeeze=False)
    for ax, (name, series) in zip(axes[0], groups.items()):
        _lines(ax, series)
        ax.set_xlabel(xlabels.get(name, name))
        ax.set_ylabel(ylabel)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.05 if note else 0, 1, 1))
    if note:
        figure.text(0.5, 0.01, note, ha="center", fontsize=7, color="dimgray")
    return save(figure, path)


def scatter(points: Mapping[str, Sequence[tuple[float, float]]], path: Path, *, xlabel: str, ylabel: str,
            title: str, logx: bool = False, front: Sequence[tuple[float, float]] = (),
            chosen: tuple[float, float, str] | None = None, note: str = "") -> Path:
    """Scattered points per group, with an optional front (e.g. a Pareto front) drawn as a step line, the chosen
    point marked and labelled, and `note` (the scale) under the axes."""
    figure = Figure(figsize=(6.4, 4.8), dpi=120)
    axes = figure.subplots()
    for name, group in points.items():
        if group:
            xs, ys = zip(*group)
            axes.scatter(xs, ys, s=18, alpha=0.75, label=name)
    if front:
        xs, ys = zip(*sorted(front))
        axes.step(xs, ys, where="post", color="black", linewidth=1, label="Pareto front")
    if chosen is not None:
        x, y, text = chosen
        axes.scatter([x], [y], s=160, marker="*", color="crimson", zorder=5, label=f"chosen: {text}")
    xs = [x for group in points.values() for x, _ in group]
    return _finish(figure, axes, path, xlabel=xlabel, ylabel=ylabel, title=title, logx=logx and _wide(xs), note=note)


def prediction_plot(measured: Series, curves: Mapping[str, Sequence[tuple[float, float]]],
                    predicted: Mapping[str, tuple[float, float, float, float]],
                    observed: Mapping[str, Sequence[tuple[float, float]]], path: Path, *, xlabel: str, ylabel: str,
                    title: str, note: str = "") -> Path:
    """Predict, then measure: per method its measured points (mean +- std), the fitted law drawn dashed out to the
    larger budget, the prediction there as a hollow marker with its interval (x, mean, low, high), and each seed
    measured there as a cross."""
    figure = Figure(figsize=(6.4, 4.8), dpi=120)
    axes = figure.subplots()
    xs = []
    for name, points in measured.items():
        colour = None
        if points:
            px, means, stds = zip(*sorted(points))
            colour = axes.errorbar(px, means, yerr=stds, marker="o", capsize=3, label=name).lines[0].get_color()
            xs += px
        if curves.get(name):
            cx, cy = zip(*sorted(curves[name]))
            axes.plot(cx, cy, linestyle="--", linewidth=1, color=colour)
        if name in predicted:
            x, mean, low, high = predicted[name]
            axes.errorbar([x], [mean], yerr=[[mean - low], [high - mean]], marker="o", markerfacecolor="white",
                          capsize=4, color=colour, label=f"{name}: predicted (95% CI)")
            xs.append(x)
        if observed.get(name):
            ox, oy = zip(*observed[name])
            axes.scatter(ox, oy, marker="x", s=40, color=colour, zorder=5, label=f"{name}: measured")
    return _finish(figure, axes, path, xlabel=xlabel, ylabel=ylabel, title=title, logx=_wide(xs), note=note)


def _lines(axes: Any, series: Series) -> None:
    """One error-bar line per series, its points sorted by x."""
    for name, points in series.items():
        if points:
            xs, means, stds = zip(*sorted(points))
            axes.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=name)


def save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png")
    return path


__all__ = ["line_plot", "panels", "prediction_plot", "save", "scatter"]


def _wide(xs: Sequence[float]) -> bool:
    """Whether an axis spans enough (more than 4x) for a log scale to read better than a linear one."""
    positive = [x for x in xs if x > 0]
    return bool(positive) and max(positive) / min(positive) > 4


def _log_ticks(decades: float) -> tuple[float, ...]:
    """Which multiples of each power of ten a log axis labels: more the narrower it is, so that a reader can place
    a point and no two labels collide."""
    if decades <= 1.5:
        return (1.0, 2.0, 3.0, 5.0)
    return (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)


def _finish(figure: Figure, axes: Any, path: Path, *, xlabel: str, ylabel: str, title: str, logx: bool,
            note: str = "") -> Path:
    """Label, grid and legend one set of axes (a log x-axis only over a wide range, with plain tick labels), then
    write the figure with its note."""
    if logx:
        axes.set_xscale("log")
        low, high = axes.get_xlim()
        axes.xaxis.set_major_locator(LogLocator(subs=_log_ticks(math.log10(high / low))))
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout(rect=(0, 0.05 if note else 0, 1, 1))
    if note:
        figure.text(0.5, 0.01, note, ha="center", fontsize=7, color="dimgray")
    return save(figure, path)
