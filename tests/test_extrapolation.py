"""Predict, then measure: a power law in MACs fitted per seed on a study's results predicts each method at a larger
budget with an interval over seeds; the study then trains those networks and reports the measurement against it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import effnet
from effnet.errors import InputError
from effnet.experiments import ScalingStudy, run_scaling_study
from effnet.experiments.extrapolation import fit_power_law, judge, predict_error, predictions
from effnet.experiments.scaling import check_extrapolation
from effnet.experiments.scaling_report import extrapolation_lines
from effnet.experiments.stats import NO_VERDICT
from effnet.experiments.trial import ProxySchedule

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.1).replace(resolution=16, name="tiny")


def test_a_power_law_is_recovered_and_predicts() -> None:
    macs = [1e6, 2e6, 4e6]
    fit = fit_power_law(macs, [30.0 * m ** -0.2 for m in macs])
    assert fit == pytest.approx((30.0, 0.2), rel=1e-9)
    assert predict_error(fit, 8e6) == pytest.approx(30.0 * 8e6 ** -0.2)
    assert fit_power_law([1e6], [10.0]) is None and fit_power_law([1e6, 1e6], [10.0, 9.0]) is None


def test_predictions_come_with_an_interval_over_seeds_and_a_judgement() -> None:
    rows = []
    for seed, scale in enumerate((1.0, 1.05, 0.95)):
        for method, budget in (("baseline", 1), ("width", 2), ("width", 4)):
            error = scale * 20.0 * budget ** -0.3
            rows.append({"method": method, "budget": float(budget), "seed": seed, "macs": 1e6 * budget,
                         "val_top1": 100 - error})
    result = predictions(rows, {"width": 8e6})["width"]
    truth = 100 - 20.0 * 8 ** -0.3
    assert result["seeds"] == [0, 1, 2] and result["low"] < truth < result["high"]
    assert result["mean"] == pytest.approx(truth, abs=0.01)
    assert judge(result, [truth - 0.05, truth + 0.05])["verdict"] == "as predicted"
    missed = judge(result, [truth - 5.1, truth - 4.9])
    assert missed["verdict"] == "below the prediction" and missed["difference"]["high"] < 0
    assert judge(result, [truth + 5.1, truth + 4.9])["verdict"] == "above the prediction"
    assert judge(result, [truth - 5])["verdict"] == NO_VERDICT  # one measured seed: no interval


def test_the_measurement_is_judged_with_both_sides_noise() -> None:
    """A measured mean just outside the prediction's own interval is no proof the law missed: the interval of
    measured minus predicted widens by the measured seeds' spread (Welch)."""
    predicted = {"mean": 90.0, "low": 89.5, "high": 90.5, "predicted_top1": [89.8, 90.0, 90.2]}
    result = judge(predicted, [90.2, 91.4])
    assert not predicted["low"] <= 90.8 <= predicted["high"]  # the measured mean is outside the prediction's interval
    assert result["measured_mean"] == 90.8 and result["verdict"] == "as predicted"
    low, high = result["difference"]["low"], result["difference"]["high"]
    assert low < 0 < high and result["difference"]["n"] == (2, 3)


def test_a_study_predicts_then_trains_the_larger_networks(tmp_path: Path, fashion_mnist: str, monkeypatch) -> None:
    larger: list[Path] = []
    recorded: list[dict] = []  # the study's results.json as each larger network starts to train
    stop = [True]

    def fake(spec, proxy, seed, folder, on_validate=None):
        if "extrapolate-8x" in str(folder):
            larger.append(folder)
            recorded.append(json.loads((tmp_path / "study" / "results.json").read_text())["extrapolation"])
            if len(larger) == 2 and stop:  # Ctrl-C in the second larger trial, once
                stop.clear()
                raise KeyboardInterrupt
        macs = effnet.profile(spec, num_classes=10).macs
        top1 = 100 - 40 * (macs / 1e6) ** -0.25 - 0.1 * seed
        curve = [{"step": 10, "val_top1": top1}]
        return {"val_top1": top1, "val_top5": 99.0, "val_loss": 0.1, "test_top1": top1, "test_top5": 99.0,
                "test_loss": 0.1, "ema_top1": None, "seconds": 0.0, "epochs": 1, "steps": 10, "images_per_s": None,
                "threads": 1, "curve": curve}

    monkeypatch.setattr("effnet.experiments.scaling.train_trial", fake)
    study = ScalingStudy(TINY, budgets=(2.0, 4.0), methods=("width", "compound"), seeds=2, extrapolate=8.0,
                         proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32,
                                             limit_test=32))
    with pytest.raises(KeyboardInterrupt):
        run_scaling_study(study, tmp_path / "study", progress=False)
    first = recorded[0]["methods_results"]  # predicted before any larger network trained, nothing measured
    assert all(r["mean"] is not None and r["measured_mean"] is None for r in first.values())
    stopped = json.loads((tmp_path / "study" / "results.json").read_text())["extrapolation"]["methods_results"]
    assert sorted(len(r.get("measured") or []) for r in stopped.values()) == [0, 1]  # the one measured so far
    assert {m: r["mean"] for m, r in stopped.items()} == {m: r["mean"] for m, r in first.items()}
    data = run_scaling_study(study, tmp_path / "study", progress=False)
    assert len(larger) == 5  # 2 methods x 2 seeds, the interrupted one twice
    result = data["extrapolation"]
    assert result["budget"] == 8.0 and set(result["methods"]) == {"compound", "width"}
    assert {m: r["mean"] for m, r in result["methods_results"].items()} == {m: r["mean"] for m, r in first.items()}
    width = result["methods_results"]["width"]
    assert len(width["measured"]) == 2 and math.isfinite(width["difference"]["mean"])
    assert (tmp_path / "study" / "extrapolate-8x" / "results.json").is_file()
    assert "Predict, then measure: 8x" in (tmp_path / "study" / "report.md").read_text()
    assert data["figures"]["extrapolation"] == "extrapolation_vs_macs.png"  # drawn with the measured seeds
    assert (tmp_path / "study" / "extrapolation_vs_macs.png").read_bytes()[:4] == b"\x89PNG"
    assert "extrapolation" not in json.loads((tmp_path / "study" / "extrapolate-8x" / "results.json").read_text()
                                              )["figures"]  # the larger study itself predicts nothing


def test_an_extrapolation_no_method_can_reach_is_refused_before_the_study_trains(tmp_path: Path, fashion_mnist: str,
                                                                                 monkeypatch) -> None:
    trained = []
    monkeypatch.setattr("effnet.experiments.scaling.train_trial", lambda *args, **kw: trained.append(args))
    proxy = ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32, limit_test=32)
    study = ScalingStudy(TINY, budgets=(2.0,), methods=("depth", "compound"), extrapolate=5000.0, proxy=proxy)
    with pytest.raises(InputError, match=r"extrapolate: depth scaling cannot reach 5000x.*leave depth out"):
        run_scaling_study(study, tmp_path / "study", progress=False)
    assert trained == [] and not (tmp_path / "study").exists()
    reachable = ScalingStudy(TINY, budgets=(2.0,), methods=("width",), extrapolate=4.0, proxy=proxy)
    check_extrapolation(reachable)  # sizes, and passes


def test_effnet_report_writes_the_tables_again_from_the_results_alone(tmp_path: Path, fashion_mnist: str,
                                                                    monkeypatch, capsys) -> None:
    from effnet.cli import main

    test_a_study_predicts_then_trains_the_larger_networks(tmp_path, fashion_mnist, monkeypatch)
    folder = tmp_path / "study"
    original = (folder / "report.md").read_text()
    copy = tmp_path / "committed"
    copy.mkdir()
    for name in ("study.json", "results.json"):  # what a recorded result commits: no journal, no trials
        (copy / name).write_bytes((folder / name).read_bytes())
    stale = json.loads((copy / "results.json").read_text())  # verdicts written under an older rule
    for comparison in stale["comparisons"]:
        comparison["verdict"] = "an older rule's verdict"
    (copy / "results.json").write_text(json.dumps(stale))
    assert main(["report", str(copy)]) == 0  # recomputed from the trials, so the same report as the study's
    assert (copy / "report.md").read_text() == original
    assert (copy / "fig8_accuracy_vs_macs.png").read_bytes()[:4] == b"\x89PNG"
    assert (copy / "extrapolation_vs_macs.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    capsys.readouterr()
    assert main(["report", str(tmp_path), "--output", str(tmp_path / "again")]) == 0  # both studies, by one command
    assert (tmp_path / "again" / "study" / "report.md").read_text() == original
    assert (tmp_path / "again" / "committed" / "report.md").read_text() == original
    assert main(["report", str(tmp_path / "again")]) == 2 and "holds no effnet study folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2 and "no such folder" in capsys.readouterr().err


def test_the_report_says_when_the_extrapolated_networks_differ_in_cost() -> None:
    def result(macs: float) -> dict:
        return {"target_macs": macs, "mean": 91.0, "low": 90.5, "high": 91.5, "predicted_top1": [90.8, 91.2]}

    def lines(**methods: float) -> str:
        return "\n".join(extrapolation_lines({"budget": 8.0, "fit": "power law in MACs, per seed",
                                              "methods_results": {m: result(c) for m, c in methods.items()}}))

    assert "Not at equal cost: rounding builds compound at 0.90x, resolution at 1.00x" in lines(
        compound=64.0e6, resolution=71.3e6)
    assert "Not at equal cost" not in lines(compound=70.0e6, resolution=71.3e6)
