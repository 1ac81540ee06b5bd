"""Plots a reader can trust: the scale (seeds, schedule, split) is written on every figure, a log axis only where the
range is wide (with plain tick labels), points labelled with their budget, the chosen candidate marked."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from effnet.experiments import plots
from effnet.experiments.scaling_report import scale_note, write_figures


@pytest.fixture
def drawn(monkeypatch) -> list:
    figures = []
    monkeypatch.setattr(plots, "save", lambda figure, path: figures.append((Path(path).name, figure)) or path)
    return figures


def _entry(method: str, budget: float, macs: float, top1: float) -> dict:
    return {"method": method, "budget": budget, "schedule_epochs": 4, "macs": macs, "latency_ms": macs / 1e7,
            "activations": macs / 50, "depth": 1.0, "width": 1.0, "resolution": 1.0, "test_top1_mean": top1,
            "test_top1_std": 0.5, "trials": 3}


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.texts] + [t.get_text() for ax in figure.axes for t in ax.texts]


def test_every_study_figure_carries_its_scale_and_budgets(drawn) -> None:
    summary = [_entry("baseline", 1.0, 9e6, 88.0)] + [
        _entry(m, b, 9e6 * b, 88.0 + b) for m in ("depth", "width", "resolution", "compound") for b in (2.0, 4.0)]
    inputs = {"seeds": 3, "proxy": {"epochs": 4, "limit_train": 5000, "data": "fashion-mnist"}}
    note = scale_note(inputs, "test", 27)
    assert "3 seed(s), 4 epoch(s) on 5000 training images" in note and "SMOKE SCALE" in note
    written = write_figures(summary, Path("/unused"), "baseline", "test", 4, note)
    assert set(written) == {"fig8", "fig3", "latency", "activations"} and len(drawn) == 4
    for name, figure in drawn:
        assert note in texts(figure), name
    fig8 = dict(drawn)["fig8_accuracy_vs_macs.png"]
    assert {"2x", "4x"} <= set(texts(fig8))  # each point says its budget
    assert fig8.axes[0].get_xscale() == "linear"  # 9 to 36 MMACs: a log axis would read worse


def test_a_wide_axis_is_logarithmic_and_the_chosen_point_is_marked(drawn, tmp_path: Path) -> None:
    plots.line_plot({"a": [(1.0, 50.0, 1.0), (100.0, 60.0, 1.0)]}, tmp_path / "x.png", xlabel="MMACs",
                    ylabel="top-1 (%)", title="t", logx=True, note="scale")
    assert drawn[-1][1].axes[0].get_xscale() == "log"
    plots.scatter({"candidates": [(1.9, 80.0), (2.1, 82.0)]}, tmp_path / "y.png", xlabel="ratio", ylabel="top-1",
                  title="t", chosen=(2.1, 82.0, "(1, 1.1, 1.2)"), note="scale")
    labels = [text.get_text() for text in drawn[-1][1].axes[0].get_legend().get_texts()]
    assert "chosen: (1, 1.1, 1.2)" in labels


@pytest.mark.parametrize("span", [(9.0, 71.0), (0.3, 40.0), (120.0, 900.0), (1.0, 1e5)])
def test_a_log_axis_labels_its_ticks_without_overlap(drawn, tmp_path: Path, span: tuple[float, float]) -> None:
    low, high = span
    plots.line_plot({"a": [(low, 50.0, 1.0), (high, 60.0, 1.0)]}, tmp_path / "x.png", xlabel="MMACs",
                    ylabel="top-1 (%)", title="t", logx=True)
    figure = drawn[-1][1]
    axes = figure.axes[0]
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    lo, hi = axes.get_xlim()
    labels = [t for t in axes.get_xticklabels(which="both") if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert len(labels) >= 2  # the reader can still place a point
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda box: box.x0)
    for left, right in pairwise(boxes):
        assert left.x1 <= right.x0, f"tick labels overlap: {[t.get_text() for t in labels]}"
