"""The scaling study and the Step-1 coefficient search on tiny models and small real Fashion-MNIST subsets: budgets
are met, outputs are written, a killed study resumes without retraining finished trials, two local workers share
one study, the grid respects its constraint, Step 2 specs follow from the coefficients, bad inputs are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import effnet
from effnet.architecture.spec import NetSpec
from effnet.cli import main
from effnet.experiments import ScalingStudy, study_baseline
from effnet.experiments import scaling as scaling_experiment
from effnet.experiments.scaling import size_networks
from effnet.experiments.trial import ProxySchedule
from effnet.search import CoefficientSearch
from effnet.search.coefficients import write_family

# A tiny baseline for the end-to-end runs: B0-small's layout at a tenth of its width and depth, 16 px.
TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.2).replace(resolution=16, name="tiny-small")
FIELDS = {"method", "budget", "seed", "depth", "width", "resolution", "effective_depth", "effective_width",
          "effective_resolution", "params", "macs", "activations", "latency_ms", "val_top1", "val_top5", "test_top1",
          "test_top5", "curve", "curve_rise", "seconds"}


def strict_json(text: str):
    def reject(constant: str):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.json"
    path.write_text(TINY.to_json())
    return path


def study_args(spec: Path, data_dir: str, output: Path, *extra: str) -> list[str]:
    return ["experiment", "scaling", str(spec), "--data", "fashion-mnist", "--data-dir", data_dir, "--budgets", "2x",
            "--epochs", "1", "--limit-train", "64", "--limit-val", "64", "--limit-test", "64", "--batch-size", "16",
            "--output", str(output), "--no-progress", *extra]


def test_the_small_image_baseline_keeps_maps_to_the_last_stage() -> None:
    small, b0 = effnet.get_spec("efficientnet-b0-small"), effnet.get_spec("efficientnet-b0")
    assert [s.stride for s in small.stages] == [1, 1, 2, 2, 1, 2, 1] and small.stem.stride == 1
    assert [s.encode().replace("_s1_", "_s2_") for s in small.stages[1:2]] == [b0.stages[1].encode()]
    assert small.resolution == 32 and small.stages[-1].channels == b0.stages[-1].channels
    rows = {row.name: row for row in effnet.profile(small).rows}
    assert rows["stages.6"].out_size == 4  # 32 px -> 4x4 maps at the last stage (B0: 1x1)
    assert {row.name: row for row in effnet.profile(b0, 32).rows}["stages.6"].out_size == 1
    assert effnet.create_model("efficientnet-b0-small").feature_info[-1]["reduction"] == 8


@pytest.mark.parametrize("resolution", [28, 32])
def test_every_method_hits_its_budget_or_the_nearest_reachable_step(resolution: int) -> None:
    base = study_baseline("efficientnet-b0-small", resolution)
    reported = size_networks(ScalingStudy(base, budgets=(2.0, 4.0), proxy=ProxySchedule(epochs=1)))
    for budget in (2.0, 4.0):
        for method in ("depth", "width", "resolution", "compound"):
            fit = effnet.fit_budget(base, f"{budget}x", method, num_classes=10)
            assert reported[f"{method}@{budget:g}x"]["error"] == pytest.approx(fit.error)  # what the study reports
            if abs(fit.error) <= 0.05:
                continue
            # not within 5%: then no coefficient reaches closer (rounding makes MACs a step function)
            lo, hi = (-2.0, 6.0) if method == "compound" else (0.5, 8.0)
            scan = [lo + (hi - lo) * i / 800 for i in range(801)]
            options = [effnet.scale(base, **({"phi": c} if method == "compound" else {method: c})) for c in scan]
            base_macs = effnet.profile(base, num_classes=10).macs
            closest = min(abs(effnet.profile(s, num_classes=10).macs / (budget * base_macs) - 1) for s in options)
            assert abs(fit.error) <= closest + 1e-9, (method, budget, fit.error, closest)


@pytest.mark.real_latency
def test_a_study_writes_json_markdown_and_figures_and_resumes(tmp_path: Path, tiny_spec: Path,
                                                              fashion_mnist: str, capsys) -> None:
    out = tmp_path / "study"
    assert main(study_args(tiny_spec, fashion_mnist, out, "--json", "--workers", "2")) == 0
    results = strict_json(capsys.readouterr().out)
    trials = results["trials"]
    assert sorted(t["method"] for t in trials) == ["baseline", "compound", "depth", "resolution", "width"]
    assert all(set(t) >= FIELDS for t in trials) and all(0 <= t["val_top1"] <= t["val_top5"] <= 100 for t in trials)
    assert all(0 <= t["test_top1"] <= 100 and len(t["curve"]) == 4 for t in trials)  # the default 4 curve points
    assert all(0 < t["latency_ms"] < 1e4 for t in trials)  # measured on effnet's inference path (real_latency)
    assert all(t["machine"].startswith("cpu ") and t["machine"].endswith(f"{os.cpu_count()} cores") for t in trials)
    base = next(t for t in trials if t["method"] == "baseline")
    for t in trials:  # each method's network at (about) twice the baseline's MACs
        if t["method"] != "baseline":
            assert t["macs"] / base["macs"] == pytest.approx(2.0, rel=0.25), t
    summary = {(s["method"], s["budget"]): s for s in results["summary"]}
    assert set(summary) == {("baseline", 1.0), *((m, 2.0) for m in ("depth", "width", "resolution", "compound"))}
    report = (out / "report.md").read_text()
    assert "Table 7 form" in report and "| compound | 2x |" in report and "95% CI" in report
    assert results["score_split"] == "test" and {c["against"] for c in results["comparisons"]} == {
        "depth", "width", "resolution"}
    for name in ("fig8_accuracy_vs_macs.png", "fig3_accuracy_vs_coefficient.png", "accuracy_vs_latency.png",
                 "accuracy_vs_activations.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    stamps = {p.name: (p / "last.pt").stat().st_mtime_ns for p in (out / "trials").iterdir()}
    # a second run finds everything done: nothing is retrained, the outputs are written again
    assert main(study_args(tiny_spec, fashion_mnist, out)) == 0
    assert {p.name: (p / "last.pt").stat().st_mtime_ns for p in (out / "trials").iterdir()} == stamps
    assert "Trials: 5 of 5 done" in capsys.readouterr().out


def test_a_killed_study_resumes_without_retraining_finished_trials(tmp_path: Path, tiny_spec: Path,
                                                                   fashion_mnist: str) -> None:
    out = tmp_path / "study"
    command = [sys.executable, "-m", "effnet", *study_args(tiny_spec, fashion_mnist, out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 240
    finished: dict[str, int] = {}
    while time.time() < deadline and process.poll() is None:  # kill -9 once two trials are finished
        time.sleep(0.5)
        finished = {p.name: (p / "last.pt").stat().st_mtime_ns for p in (out / "trials").glob("*")
                    if (p / "metrics.jsonl").is_file() and (p / "metrics.jsonl").read_text().strip()}
        if len(finished) >= 2:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert len(finished) >= 2 and process.returncode == -signal.SIGKILL, "the study ended before it could be killed"
    assert not (out / "results.json").exists()
    assert main(study_args(tiny_spec, fashion_mnist, out)) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["done"] == 5 and len(results["trials"]) == 5
    for name, stamp in finished.items():  # the trials finished before the kill were not trained again
        assert (out / "trials" / name / "last.pt").stat().st_mtime_ns == stamp, name


def test_the_grid_mode_trains_width_under_fixed_depth_and_resolution(tmp_path: Path, fashion_mnist: str) -> None:
    study = ScalingStudy(TINY, budgets=(), methods=(), grid=True, grid_pairs=((1.0, 1.0), (2.0, 1.5)),
                         grid_widths=(1.0, 2.0),
                         proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32,
                                             limit_test=32, batch_size=16))
    from effnet.experiments import run_scaling_study

    results = run_scaling_study(study, tmp_path / "grid", progress=False)
    grid = [s for s in results["summary"] if s["method"] == "grid"]
    assert {(s["grid_depth"], s["grid_resolution"], s["grid_width"]) for s in grid} == {
        (1.0, 1.0, 1.0), (1.0, 1.0, 2.0), (2.0, 1.5, 1.0), (2.0, 1.5, 2.0)}
    assert (tmp_path / "grid" / "fig4_width_grid.png").is_file()


@pytest.mark.filterwarnings("ignore::effnet.architecture.scaling.ScalingWarning")
def test_the_step1_grid_respects_the_constraint_and_step2_follows(tmp_path: Path, fashion_mnist: str,
                                                                   capsys) -> None:
    search = CoefficientSearch(TINY, step=0.1, tolerance=0.1, num_classes=10)
    candidates = search.candidates()
    assert candidates and all(min(c) >= 1.0 for c in candidates) and (1.2, 1.1, 1.15) in candidates
    base_macs = effnet.profile(TINY, num_classes=10).macs
    values = [1.0 + i / 10 for i in range(11)]  # every grid point, checked independently by its real MACs ratio
    inside = {(a, b, g) for a in values for b in values for g in values
              if abs(effnet.profile(search.network(a, b, g), num_classes=10).macs / base_macs - 2) <= 0.1 + 1e-9}
    assert set(candidates) - {(1.2, 1.1, 1.15)} == {tuple(round(v, 6) for v in p) for p in inside}
    out = tmp_path / "search"
    args = ["search", "coefficients", "efficientnet-b0-small", "--resolution", "16", "--step", "0.3", "--max", "1.6",
            "--tolerance", "0.3", "--family", "2", "--confirm", "0", "--data", "fashion-mnist", "--data-dir",
            fashion_mnist, "--epochs", "1", "--limit-train", "32", "--limit-val", "32", "--limit-test", "32",
            "--batch-size", "16", "--output", str(out), "--no-progress", "--json", "--workers", "2"]
    assert main(args) == 0
    data = strict_json(capsys.readouterr().out)
    rows = data["candidates"]
    assert all(abs(r["macs_ratio"] - 2) <= 0.3 + 1e-9 or r["paper"] for r in rows)
    assert all(r["trained"] == 1 for r in rows) and data["selection_split"] == "val"
    best = max(rows, key=lambda r: r["val_top1_mean"])
    assert (data["alpha"], data["beta"], data["gamma"]) == (best["alpha"], best["beta"], best["gamma"])
    base = study_baseline("efficientnet-b0-small", 16)
    for phi in (1, 2):  # Step 2: each family member is the baseline scaled with the chosen coefficients
        path = out / "family" / f"phi{phi}.json"
        expected = effnet.scale(base, phi=phi, alpha=data["alpha"], beta=data["beta"], gamma=data["gamma"])
        assert effnet.get_spec(path).stages == expected.stages and effnet.get_spec(path).resolution == \
            expected.resolution
        assert main(["info", str(path)]) == 0 and main(["profile", str(path), "--json"]) == 0
    # adding Step 2's comparison to the finished search trains only the two families, phi by phi, with real trials
    capsys.readouterr()
    assert main([*args, "--family-seeds", "1"]) == 0
    again = strict_json(capsys.readouterr().out)
    assert again["candidates"] == rows  # the grid was read back, not trained again
    if (again["alpha"], again["beta"], again["gamma"]) == (1.2, 1.1, 1.15):
        assert "Step 2 has no other family to compare" in (out / "report.md").read_text()
    else:
        step2 = again["family_comparison"]
        assert step2["first_seed"] == 1 and [r["phi"] for r in step2["rows"]] == [1, 2]
        assert all(r["chosen_trials"] == r["paper_trials"] == 1 for r in step2["rows"])
        assert (out / "step2" / "results.json").is_file()
    capsys.readouterr()
    assert main(["train", "--model", str(out / "family" / "phi1.json"), "--data", "fashion-mnist", "--data-dir",
                 fashion_mnist, "--max-steps", "1", "--limit-train", "16", "--limit-val", "16", "--batch-size", "8",
                 "--epochs", "1", "--output", str(tmp_path / "train"), "--no-progress", "--recipe", "small-data"]) == 0


def test_write_family_reports_where_it_stops(tmp_path: Path) -> None:
    with pytest.raises(effnet.InputError, match="the family stops before phi"):
        write_family(TINY, 4.0, 4.0, 4.0, 20, tmp_path / "family")


@pytest.mark.parametrize("case, extra, expect", [
    ("budget below the baseline", ["--budgets", "0.5x"], "is not in (1x, 10000x]"),
    ("budget equal to the baseline", ["--budgets", "1x"], "is not in (1x, 10000x]"),
    ("unreadable budget", ["--budgets", "lots"], "cannot read budget"),
    ("unknown method", ["--methods", "depth,height"], "unknown scaling method 'height'"),
    ("unreachable storage", ["--storage", "postgresql+psycopg://u:pw@127.0.0.1:1/db"], "cannot reach the study"),
])
def test_bad_study_inputs_are_one_line_exit_2(tmp_path: Path, tiny_spec: Path, capsys, case, extra, expect) -> None:
    try:
        code = main(study_args(tiny_spec, "/nonexistent", tmp_path / "s", *extra))
    except SystemExit as stop:  # argparse's own checks exit from parse_args, also with code 2 and one line
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("effnet: error:"), (case, err)
    assert expect in err, (case, err)
    assert "pw" not in err


def test_a_study_folder_of_another_configuration_is_refused(tmp_path: Path, tiny_spec: Path, fashion_mnist: str,
                                                            capsys) -> None:
    out = tmp_path / "s"
    assert main(study_args(tiny_spec, fashion_mnist, out, "--methods", "width")) == 0
    capsys.readouterr()
    assert main(study_args(tiny_spec, fashion_mnist, out, "--methods", "depth")) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "methods" in err and err.count("\n") == 1
    assert main(["search", "coefficients", str(tiny_spec), "--data", "fashion-mnist", "--data-dir", fashion_mnist,
                 "--output", str(out), "--no-progress"]) == 2
    assert "holds a scaling-study study, not a coefficient-search" in capsys.readouterr().err


def test_a_grid_no_point_satisfies_still_holds_the_papers_point() -> None:
    search = CoefficientSearch(TINY, step=0.5, high=1.5, tolerance=0.01, num_classes=10)
    assert search.candidates() == [(1.2, 1.1, 1.15)]  # always compared, on the grid or not


def test_methods_can_be_sized_to_the_same_measured_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    # the mechanism, with a deterministic cost: width scaling to twice the parameters
    fit = effnet.fit_budget(TINY, "2x", "width", cost=lambda spec: float(effnet.profile(spec).params),
                            metric="params")
    assert fit.metric == "params" and fit.cost == pytest.approx(2 * fit.base_cost, rel=0.1)
    # the study with latency budgets: every network sized by its latency, and the latency recorded. The clock is
    # replaced by a deterministic stand-in (a fixed overhead plus a per-MAC time), so a loaded machine cannot make
    # the test fail; measuring real latency is benchmarks' business.
    measured: list[str] = []

    def fake_latency(spec: NetSpec, num_classes: int = 10, runs: int = 20) -> float:
        measured.append(spec.name)
        return 0.05 + effnet.profile(spec, num_classes=num_classes).macs / 1e6

    monkeypatch.setattr(scaling_experiment, "spec_latency", fake_latency)
    study = ScalingStudy(TINY, budgets=(2.0,), methods=("width", "resolution"), budget_metric="latency",
                         proxy=ProxySchedule(epochs=1))
    networks = size_networks(study)
    base = networks["baseline"]["latency_ms"]
    assert measured, "the study never asked for a latency"
    for label in ("width@2x", "resolution@2x"):
        assert networks[label]["latency_ms"] > 1.6 * base  # sized towards twice the baseline's latency
        assert abs(networks[label]["error"]) < 0.25
