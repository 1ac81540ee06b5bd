"""Answers that survive a second look: a held-out validation split that every choice uses (the test split scored once),
residual branches that start at zero, paired statistics with Holm's correction, learning curves and convergence
flags, effective coefficients and budgets on the real MACs ratio, confirm phases that undo a lucky winner,
multi-fidelity pruning, and studies that fail fast instead of failing every trial."""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from scipy import stats as scipy_stats
from torch import nn

import effnet
from effnet.architecture.operators import BlockContext
from effnet.architecture.scaling import ScalingWarning, effective_coefficients, round_repeats
from effnet.cli import main
from effnet.data import make_splits, stratified_holdout
from effnet.engine import score_text, summarize
from effnet.experiments import ScalingStudy, study_baseline
from effnet.experiments.convergence import ConvergenceCheck, summarize_check
from effnet.experiments.report import write_report
from effnet.experiments.scaling import size_networks
from effnet.experiments.scaling_report import (
    _interval,
    comparisons,
    conclusion,
    fidelity_check,
    unequal_costs,
    unfinished,
)
from effnet.experiments.stats import (
    NO_PAIR,
    NO_VERDICT,
    compare_family,
    holm,
    kendall_tau,
    paired_difference,
    unpaired_difference,
)
from effnet.experiments.trial import ProxySchedule, curve_rise
from effnet.search import ArchitectureSearch, CoefficientSearch, SearchSpace
from effnet.search.architecture import run_architecture_search
from effnet.search.coefficients import PAPER, family_comparison, family_spec, label, run_coefficient_search
from effnet.train import load_recipe
from effnet.train.distributed import DistInfo, ResumableSampler

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.2).replace(resolution=16, name="tiny-small")


# ----- 1. the held-out validation split --------------------------------------------------------------------------
def test_the_holdout_is_stratified_fixed_and_disjoint() -> None:
    labels = [i % 4 for i in range(400)] + [4] * 100  # five classes, one of them larger
    kept, held = stratified_holdout(labels, 50)
    assert len(held) == 50 and len(kept) == 450 and not set(kept) & set(held)
    share = {c: sum(labels[i] == c for i in held) for c in range(5)}
    assert share == {0: 10, 1: 10, 2: 10, 3: 10, 4: 10}  # each class in its share of the whole
    assert stratified_holdout(labels, 50) == (kept, held)  # fixed: the same for every run and every seed
    with pytest.raises(effnet.InputError, match="cannot hold out"):
        stratified_holdout(labels, 500)


def test_fashion_mnist_holds_out_10000_training_images_and_keeps_its_test_split(fashion_mnist: str) -> None:
    parts = make_splits("fashion-mnist", "holdout", data_dir=fashion_mnist)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (50_000, 10_000, 10_000)
    assert not set(parts.train.indices) & set(parts.val.indices)
    assert sorted(parts.val.targets.count(c) for c in range(10)) == [1000] * 10
    own = make_splits("fashion-mnist", "dataset", data_dir=fashion_mnist)  # as timm: validate on the test split
    assert (len(own.train), len(own.val), own.test) == (60_000, 10_000, None)


def test_an_image_folder_validates_on_val_and_tests_on_test(tmp_path: Path) -> None:
    from PIL import Image

    for split, count in (("train", 6), ("val", 3), ("test", 2)):
        for name in ("cat", "dog"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / split / name / f"{i}.png")
    parts = make_splits(tmp_path, "holdout")
    assert (len(parts.train), len(parts.val), len(parts.test)) == (12, 6, 4)
    assert parts.val.dataset.root.name == "val" and parts.test.dataset.root.name == "test"


def test_seeds_see_different_data_orders() -> None:
    info = DistInfo()

    def order(seed: int, epoch: int) -> list[int]:
        sampler = ResumableSampler(100, 10, 1, info, seed)
        sampler.set_position(epoch, 0)
        return list(sampler)

    assert order(0, 1) != order(1, 0)  # with seed + epoch these were the same permutation
    assert order(0, 0) == order(0, 0) and order(0, 0) != order(0, 1)


# ----- 2. residual branches that start at zero ------------------------------------------------------------------
def _blocks() -> dict[str, nn.Module]:
    def ctx(in_ch: int) -> BlockContext:
        return BlockContext(in_ch, 1, 0.0, "relu", lambda c: nn.BatchNorm2d(c), "symmetric")

    from effnet.architecture.blocks.resnet import _basic, _bottleneck
    from effnet.architecture.blocks.xception import XceptionBlock
    from effnet.architecture.layers import MBConv

    return {"mbconv": MBConv(8, 8, 3, 1, 4.0, 0.25, norm=nn.BatchNorm2d, act="silu"),
            "basic": _basic(effnet.Stage("basic", 1, 3, 1, 8), ctx(8)),
            "bottleneck": _bottleneck(effnet.Stage("bottleneck", 1, 3, 1, 8, expand=0.25), ctx(8)),
            "xception": XceptionBlock("xmiddle", 8, 8, 3, 1, ctx(8))}


@pytest.mark.parametrize("name", ["mbconv", "basic", "bottleneck", "xception"])
def test_a_zero_initialised_residual_block_is_the_identity(name: str) -> None:
    block = _blocks()[name]
    x = torch.relu(torch.randn(2, 8, 6, 6))  # a residual block's input follows an activation
    assert not torch.allclose(block.eval()(x), x)  # the TF reference init: the branch adds something
    assert effnet.zero_init_residuals(nn.Sequential(block)) == 1
    for mode in (block.eval(), block.train()):
        assert torch.allclose(mode(x), x, atol=1e-6), name


def test_a_zero_initialised_shuffle_unit_passes_half_its_channels_and_zeroes_the_other() -> None:
    from effnet.architecture.blocks.shufflenet import ShuffleUnit, channel_shuffle

    ctx = BlockContext(8, 1, 0.0, "relu", nn.BatchNorm2d, "symmetric")
    unit = ShuffleUnit(8, 8, 3, 1, ctx).eval()
    effnet.zero_init_residuals(nn.Sequential(unit))
    x = torch.randn(2, 8, 5, 5)
    expected = channel_shuffle(torch.cat((x[:, :4], torch.zeros_like(x[:, 4:])), 1), 2)
    assert torch.allclose(unit(x), expected, atol=1e-6)


def test_custom_operators_opt_in_and_whole_networks_start_as_their_shortcuts() -> None:
    class Opted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.zeroed = False

        def zero_init_last(self) -> None:
            self.zeroed = True

    net = nn.Sequential(Opted(), nn.Conv2d(3, 3, 1))
    assert effnet.zero_init_residuals(net) == 1 and net[0].zeroed
    model = effnet.build(TINY, 10)
    blocks = [m for m in model.modules() if hasattr(m, "zero_init_last")]
    residual = [m for m in blocks if getattr(m, "has_skip", True)]
    assert effnet.zero_init_residuals(model) == len(blocks) and residual
    assert all(float(m.project.bn.weight.detach().abs().sum()) == 0 for m in residual)


def test_the_proxy_recipe_starts_at_zero_without_stochastic_depth_and_the_paper_keeps_the_tf_init() -> None:
    proxy, paper = load_recipe("proxy"), load_recipe("paper")
    assert proxy.zero_init_residual and proxy.drop_path == 0.0 and proxy.augmentation.policy == "none"
    assert not paper.zero_init_residual and paper.drop_path == 0.2
    assert ProxySchedule().recipe == "proxy" and ProxySchedule().val_split == "holdout"


# ----- 3. effective coefficients and honest budgets --------------------------------------------------------------
def test_effective_coefficients_show_what_ceil_rounding_builds() -> None:
    base = study_baseline("efficientnet-b0-small", 16)
    compound = effnet.scale(base, phi=0.6)
    nominal = compound.coefficients[0] / base.coefficients[0]
    effective = effective_coefficients(compound, base)
    assert nominal < 1.15 and effective["depth"] > 1.3  # the single-block stages became two
    nearest = effnet.scale(base, phi=0.6, repeat_rounding="nearest")
    assert effective_coefficients(nearest, base)["depth"] < effective["depth"]
    assert (round_repeats(1, 1.12), round_repeats(1, 1.12, "nearest"), round_repeats(3, 1.5, "nearest")) == (2, 1, 5)
    with pytest.raises(effnet.SpecError, match="repeat rounding"):
        round_repeats(2, 1.5, "up")


def test_repeat_rounding_is_a_model_option_and_a_scale_flag(tmp_path: Path, capsys) -> None:
    """Step 2 compares the chosen family with the paper's coefficients at the same phi, both rounded alike: the
    paper's network must be writable with nearest rounding too, from Python and from `effnet scale`."""
    base = study_baseline("efficientnet-b0-small", 16)
    spec = tmp_path / "base.json"
    spec.write_text(base.to_json())
    expected = effnet.scale(base, phi=1, repeat_rounding="nearest")
    assert effnet.resolve_spec(spec, phi=1, repeat_rounding="nearest").stages == expected.stages
    assert effnet.resolve_spec(spec, phi=1).stages != expected.stages  # ceil: every single-block stage doubles
    assert main(["scale", str(spec), "--phi", "1", "--repeat-rounding", "nearest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["stages"] == [s.encode() for s in expected.stages]
    assert main(["scale", str(spec), "--target-macs", "2x", "--repeat-rounding", "nearest", "--json"]) == 0
    assert abs(json.loads(capsys.readouterr().out)["fit"]["error"]) < 0.1


def test_study_networks_record_nominal_and_effective_coefficients_with_the_task_classifier() -> None:
    study = ScalingStudy(TINY, budgets=(2.0,), proxy=ProxySchedule(epochs=1), num_classes=10)
    networks = size_networks(study)
    for name, network in networks.items():
        spec = effnet.NetSpec.from_dict(network["spec"])
        assert network["macs"] == effnet.profile(spec, num_classes=10).macs  # costed with 10 classes, not 1000
        assert network["effective_depth"] == effective_coefficients(spec, TINY)["depth"], name


@pytest.mark.filterwarnings("ignore::effnet.architecture.scaling.ScalingWarning")
def test_the_coefficient_grid_keeps_candidates_by_real_macs_ratio_and_always_the_papers_point() -> None:
    base = study_baseline("efficientnet-b0-small", 16)
    search = CoefficientSearch(base, step=0.1, tolerance=0.1, num_classes=10)
    candidates = search.candidates()
    assert PAPER in candidates  # 1.15 is not on a 0.1 grid: kept all the same
    for point in candidates:
        if point != PAPER:
            assert abs(search.ratios[point] - 2.0) <= 0.1 + 1e-9
            real = effnet.profile(search.network(*point), num_classes=10).macs / effnet.profile(
                base, num_classes=10).macs
            assert real == pytest.approx(search.ratios[point], abs=1e-3)
    nominal_only = [(a, b, g) for (a, b, g) in search.ratios if abs(a * b * b * g * g - 2) <= 0.1]
    assert set(nominal_only) != set(candidates)  # the nominal product would have kept other networks


@pytest.mark.filterwarnings("ignore::effnet.architecture.scaling.ScalingWarning")
def test_grid_points_that_build_the_same_network_are_trained_once_and_named_together(
        tmp_path: Path, fashion_mnist: str, monkeypatch) -> None:
    """Nearest rounding leaves B0-small's repeats alone for alpha 1.0 and 1.1: (1.0, 1.1, 1.2) and (1.1, 1.1, 1.2)
    are one network. Training both would spend a trial on nothing and let seed noise choose between copies."""
    base = study_baseline("efficientnet-b0-small", 16)
    search = CoefficientSearch(base, step=0.1, tolerance=0.1, seeds=2, confirm=0, repeat_rounding="nearest",
                               proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32))
    networks = search.networks()
    assert sorted(p for members in networks.values() for p in members) == search.candidates()  # a partition
    assert len(networks) < len(search.candidates()) and (1.1, 1.1, 1.2) in networks[(1.1, 1.1, 1.2)]
    assert networks[(1.1, 1.1, 1.2)] == [(1.0, 1.1, 1.2), (1.1, 1.1, 1.2)]  # 1.1 * 1.1^2 * 1.2^2 is nearer 2
    twins = [effnet.create_model(search.network(*p), num_classes=10) for p in networks[(1.1, 1.1, 1.2)]]
    assert [(k, v.shape) for k, v in twins[0].state_dict().items()] == [
        (k, v.shape) for k, v in twins[1].state_dict().items()]
    plan = search.plan()
    assert len(plan.trials) == 2 * len(networks)
    assert all((t["alpha"], t["beta"], t["gamma"]) in networks for t in plan.trials)
    chosen = label(1.1, 1.1, 1.2)
    monkeypatch.setattr("effnet.search.coefficients.train_trial", _fake_trial(
        lambda spec, seed: (90.0 if _candidate(spec) == chosen else 70.0, 50.0)))
    data = run_coefficient_search(search, tmp_path / "search", progress=False)
    assert (data["alpha"], data["beta"], data["gamma"]) == (1.1, 1.1, 1.2)
    assert data["best"]["same_network"] == [label(1.0, 1.1, 1.2)]
    assert len(data["candidates"]) == len(networks) and all(r["trained"] == 2 for r in data["candidates"])
    report = (tmp_path / "search" / "report.md").read_text()
    assert f"{len(networks)} distinct phi = 1 networks (built by {len(search.candidates())} grid points" in report
    assert "The same phi = 1 network is built by (1, 1.1, 1.2): Step 1 cannot tell them apart" in report
    assert "Not at equal cost: the paper's (1.2, 1.1, 1.15) builds 2." in report  # 2.3x after nearest rounding


# ----- 4. statistics ---------------------------------------------------------------------------------------------
def test_a_paired_difference_has_the_student_t_interval() -> None:
    d = paired_difference([11.0, 12.0, 13.0], [10.0, 10.0, 10.0])  # differences 1, 2, 3
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2) x sd / sqrt(n)
    assert d["mean"] == 2.0 and d["low"] == pytest.approx(2 - half, abs=1e-3) and d["high"] == pytest.approx(
        2 + half, abs=1e-3)
    assert 0.05 < d["p"] < 0.1 and d["low"] < 0  # t = 3.46 with 2 degrees of freedom: not significant at 5%
    # pairing removes the seed-to-seed spread both share: unpaired, these overlap completely
    shared = paired_difference([80.0, 90.0, 85.0, 70.0], [79.0, 89.1, 84.0, 69.2])
    assert shared["low"] > 0
    one = paired_difference([1.0], [0.0])
    assert one["low"] is None and one["p"] is None


def test_an_unpaired_difference_has_welchs_interval() -> None:
    d = unpaired_difference([90.1, 90.5], [89.0, 89.6, 89.3])
    # Welch by hand: variances 0.08 and 0.09, se^2 = 0.04 + 0.03, df = 0.07^2 / (0.04^2 / 1 + 0.03^2 / 2)
    se, df = math.sqrt(0.07), 0.07 ** 2 / (0.04 ** 2 + 0.03 ** 2 / 2)
    half = float(scipy_stats.t.ppf(0.975, df)) * se
    assert d["mean"] == pytest.approx(1.0) and d["n"] == (2, 3)
    assert d["low"] == pytest.approx(1.0 - half, abs=1e-3) and d["high"] == pytest.approx(1.0 + half, abs=1e-3)
    assert unpaired_difference([90.0], [89.0, 89.5])["low"] is None  # one value on a side: no interval


def test_a_score_from_one_run_has_no_spread_and_from_several_the_sample_std() -> None:
    assert score_text(*summarize([89.5]), 1) == "89.50"
    assert score_text(*summarize([89.0, 90.0, 91.0]), 3) == "90.00 +- 1.00"
    assert score_text(None, None, 0) == "-"


def test_holm_adjusts_a_family_and_verdicts_follow() -> None:
    assert holm([0.01, 0.04, 0.03, None]) == [0.03, 0.06, 0.06, None]
    family = compare_family([([5.0, 6.0, 5.5, 6.2], [1.0, 1.1, 0.9, 1.0]),  # clearly better
                             ([1.0, 1.1, 0.9, 1.0], [5.0, 6.0, 5.5, 6.2]),  # clearly worse
                             ([1.0, 2.0, 1.5, 0.5], [1.2, 1.6, 1.6, 0.9])])  # noise
    assert [f["verdict"] for f in family] == ["better", "worse", "not distinguishable"]
    assert all(f["p_holm"] >= f["p"] for f in family)
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.6667, abs=1e-3)


def test_scaling_comparisons_are_paired_by_seed_and_corrected() -> None:
    rows = []
    gains = {"compound": (1.0, 1.0, 1.0), "width": (0.0, 0.1, -0.05), "depth": (-0.1, 0.0, 0.05),
             "resolution": (1.1, 0.2, 1.9)}
    for seed, offset in enumerate((0.0, 5.0, -4.0)):  # seed effects far larger than the methods' differences
        for method, gain in gains.items():
            rows.append({"method": method, "budget": 2.0, "seed": seed, "test_top1": 80 + offset + gain[seed]})
    result = {c["against"]: c for c in comparisons(rows, "test")}
    assert result["width"]["verdict"] == "better" and result["depth"]["verdict"] == "better"
    assert result["resolution"]["verdict"] == "not distinguishable"
    assert result["width"]["n"] == 3 and result["width"]["p_holm"] >= result["width"]["p"]


def test_one_paired_seed_gets_no_verdict_not_a_claim_that_the_two_are_alike() -> None:
    rows = [{"method": m, "budget": b, "seed": s, "test_top1": 80.0 + g + s}
            for m, g in (("compound", 1.0), ("depth", 0.0)) for b, seeds in ((2.0, (0, 1, 2)), (4.0, (0,)))
            for s in seeds]
    rows[1]["test_top1"] += 0.3  # some spread at 2x, so its interval exists and is wide
    found = {c["budget"]: c for c in comparisons(rows, "test")}
    assert found[4.0]["verdict"] == NO_VERDICT and found[2.0]["verdict"] in ("better", "not distinguishable")
    words = "\n".join(conclusion(list(found.values()), [], "test"))
    assert "No verdict yet against depth at 4x" in words
    assert "cannot be told apart from depth at 4x" not in words
    short = [{**r, "schedule_epochs": 3, "val_top1": r["test_top1"]} for r in rows if r["seed"] == 0]
    full = [{**r, "schedule_epochs": 6, "val_top1": r["test_top1"]} for r in rows]
    assert fidelity_check(full + short, 6, "test")[0]["changed_verdicts"] == []  # one seed at 3 epochs: no verdict
    apart = comparisons([*rows, {"method": "width", "budget": 4.0, "seed": 1, "test_top1": 81.0}], "test")
    (unpaired,) = [c for c in apart if c["against"] == "width"]  # compound has seed 0 only, width seed 1 only
    assert unpaired["n"] == 0 and unpaired["verdict"] == NO_PAIR == "no verdict (no paired seed)"
    assert _interval(unpaired) == "- (no seed in common)"


def test_the_report_lists_each_trial_without_a_result_once_by_name_with_its_latest_end() -> None:
    failures = [{"params": {"method": "baseline", "budget": 1.0, "seed": 0}, "error": "interrupted"},
                {"params": {"method": "depth", "budget": 4.0, "seed": 2, "epochs": 3}, "error": "interrupted"},
                {"params": {"method": "baseline", "budget": 1.0, "seed": 0}, "error": "its process stopped"}]
    assert unfinished(failures, 6) == [("baseline seed 0", "its process stopped"),
                                       ("depth@4x seed 2, 3 epochs", "interrupted")]


# ----- 5. learning curves and convergence ------------------------------------------------------------------------
def test_a_curve_still_rising_over_its_last_quarter_is_measured() -> None:
    curve = [{"step": s, "val_top1": v} for s, v in ((25, 60.0), (50, 70.0), (75, 74.0), (100, 76.5))]
    assert curve_rise(curve) == 2.5
    assert curve_rise(curve[-1:]) is None


# ----- fakes for the searches: the trainer is replaced, everything else is real ----------------------------------
def _fake_trial(scores):
    """A stand-in for `train_trial`: validation and test top-1 from `scores(spec, seed)`, reporting four points."""

    def train(spec, proxy, seed, folder, on_validate=None):
        val, test = scores(spec, seed)
        curve = []
        for point in range(1, 5):
            curve.append({"step": point * 10, "epoch": point / 4, "val_top1": val - (4 - point)})
            if on_validate is not None:
                on_validate(point, val - (4 - point))
        return {"val_top1": val, "val_top5": 99.0, "val_loss": 0.5, "test_top1": test, "test_top5": 99.0,
                "test_loss": 0.5, "ema_top1": None, "seconds": 0.01, "epochs": proxy.epochs, "steps": 40,
                "images_per_s": None, "threads": 1, "curve": curve}

    return train


def _candidate(spec) -> str:
    return spec.name.rsplit("phi1-", 1)[1]


def test_the_coefficient_search_chooses_on_validation_and_the_confirm_phase_undoes_luck(
        tmp_path: Path, fashion_mnist: str, monkeypatch) -> None:
    base = study_baseline("efficientnet-b0-small", 16)
    search = CoefficientSearch(base, step=0.1, tolerance=0.1, seeds=1, confirm=2, confirm_seeds=3,
                               proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32))
    candidates = sorted(search.networks())  # one per distinct phi = 1 network
    assert len(candidates) >= 3
    (lucky, steady, test_best), chosen = (label(*c) for c in candidates[:3]), candidates[1]

    def scores(spec, seed):
        name = _candidate(spec)
        if name == lucky:  # lucky on the grid's seed 0, weak on the fresh seeds of the confirm phase
            return (90.0 if seed == 0 else 80.0), 70.0
        if name == steady:
            return 85.0 + 0.1 * seed, 71.0
        if name == test_best:  # the best on the test split: never chosen, since choices use validation
            return 60.0, 99.0
        return 50.0, 50.0

    for module in ("effnet.search.coefficients", "effnet.experiments.compare"):
        monkeypatch.setattr(f"{module}.train_trial", _fake_trial(scores))
    data = run_coefficient_search(search, tmp_path / "search", progress=False)
    assert data["ranking"][:2] == [lucky, steady] and data["selection_split"] == "val"
    assert data["confirm"]["grid_winner"] == lucky and data["choice_source"] == "confirm"
    assert (data["alpha"], data["beta"], data["gamma"]) == chosen  # the steady one survives
    assert data["confirm"]["winner"]["distinguishable"]
    report = (tmp_path / "search" / "report.md").read_text()
    assert "did not hold up in the confirm phase" in report
    assert "| 90.00 | 70.00 | 1 |" in report  # one grid seed: the mean alone, no made-up spread of 0
    assert "| 85.20 +- 0.10 | 71.00 +- 0.00 |" in report  # the confirm phase's 3 seeds: mean +- std
    assert (tmp_path / "search" / "confirm" / "results.json").is_file()


def test_step2_trains_the_chosen_family_against_the_papers_with_fresh_seeds_paired_and_corrected(
        tmp_path: Path, fashion_mnist: str, monkeypatch) -> None:
    """Step 2 as the paper's claim needs it: the chosen coefficients' phi = 1..N against the paper's at the same phi,
    rounded alike, on the grid's proxy; seeds the choice was not made on; one verdict per phi, Holm-corrected."""
    base = study_baseline("efficientnet-b0-small", 16)
    search = CoefficientSearch(base, step=0.1, tolerance=0.1, seeds=1, confirm=2, confirm_seeds=2, family=2,
                               family_seeds=3, repeat_rounding="nearest",
                               proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32))
    best = next(c for c in sorted(search.networks()) if c != PAPER)
    seen, stop, during = [], [True], []

    def scores(spec, seed):
        member = re.search(r"-a([\d.]+)-b([\d.]+)-g([\d.]+)-phi(\d+)$", spec.name)
        if member is None:  # a grid or confirm candidate at phi = 1
            return (90.0 if _candidate(spec) == label(*best) else 80.0), 70.0
        seen.append(seed)
        if len(seen) == 1:  # the report while Step 2's first trial trains
            during.append((tmp_path / "search" / "report.md").read_text())
        if len(seen) == 5 and stop:  # Ctrl-C during Step 2, once
            stop.clear()
            raise KeyboardInterrupt
        chosen = tuple(float(v) for v in member.groups()[:3]) == best
        phi = int(member.group(4))
        noise = (0.0, 3.0, -2.0)[seed - 3]  # seed effects far larger than the difference
        gain = (2.0 + 0.1 * seed) if chosen and phi == 1 else 0.05 * (seed - 4) if chosen else 0.0
        return 80.0 + noise + gain, 75.0 + noise + gain

    for module in ("effnet.search.coefficients", "effnet.experiments.compare"):
        monkeypatch.setattr(f"{module}.train_trial", _fake_trial(scores))
    with pytest.raises(KeyboardInterrupt):
        run_coefficient_search(search, tmp_path / "search", progress=False)
    assert "Step 2 (the chosen family against the paper's coefficients at phi = 1 to 2) has no finished trial yet" \
        in during[0] and "nothing to compare" not in during[0]  # not "the same network at every phi"
    partial = json.loads((tmp_path / "search" / "coefficients.json").read_text())["family_comparison"]
    assert partial["counts"]["done"] == 4 and "Trials: 4 of 12 done" in (tmp_path / "search" / "report.md").read_text()
    data = run_coefficient_search(search, tmp_path / "search", progress=False)  # the same call resumes
    assert (data["alpha"], data["beta"], data["gamma"]) == best
    assert sorted(set(seen)) == [3, 4, 5]  # after the grid's seed 0 and the confirm phase's 1, 2
    assert len(seen) == 13  # 12 trials, the interrupted one twice
    step2 = data["family_comparison"]
    assert [r["phi"] for r in step2["rows"]] == [1, 2] and step2["first_seed"] == 3 and step2["score_split"] == "test"
    first, second = (r["difference"] for r in step2["rows"])
    assert first["verdict"] == "better" and first["mean"] == pytest.approx(2.4) and first["n"] == 3
    assert second["verdict"] == "not distinguishable" and second["p_holm"] >= second["p"]
    for row in step2["rows"]:  # both members built by the same rounding as the family files
        assert row["chosen_macs"] == effnet.profile(
            family_spec(base, best, row["phi"], "nearest"), num_classes=10).macs
        assert row["paper_macs"] == effnet.profile(family_spec(base, PAPER, row["phi"], "nearest"),
                                                   num_classes=10).macs
    report = (tmp_path / "search" / "report.md").read_text()
    assert "## Step 2: the chosen family against the paper's (1.2, 1.1, 1.15) at the same phi" in report
    assert "from seed 3: none of the seeds the choice was made on" in report and "| better |" in report
    written = tmp_path / "again"
    write_report(tmp_path / "search", written)  # regenerated from coefficients.json alone
    assert (written / "report.md").read_text() == report
    write_report(tmp_path / "search" / "step2", written)  # and the comparison's own report, with its pairs
    assert "| chosen-phi1 | paper-phi1 | +2.40 [" in (written / "report.md").read_text()
    count = len(seen)
    assert run_coefficient_search(search, tmp_path / "search", progress=False)["family_comparison"] == step2
    assert len(seen) == count  # resumed: nothing trained again
    # run again without asking for Step 2: its recorded results stay in the report
    without = run_coefficient_search(replace(search, family_seeds=0), tmp_path / "search", progress=False)
    assert without["family_comparison"] == step2 and len(seen) == count
    # other Step-2 settings: refused, naming the one folder to remove (overwrite would retrain the grid too)
    with pytest.raises(effnet.InputError, match=r"step2 holds Step 2 of other settings \(seeds: was 3, now 2\); "
                                                r"remove that folder"):
        run_coefficient_search(replace(search, family_seeds=2), tmp_path / "search", progress=False)
    assert len(seen) == count
    # without a confirm phase the grid chooses, and Step 2 follows all the same, after the grid's seeds
    quick = replace(search, confirm=0, family=1, family_seeds=2)
    seen.clear()
    assert [r["phi"] for r in run_coefficient_search(quick, tmp_path / "quick", progress=False)[
        "family_comparison"]["rows"]] == [1]
    assert sorted(set(seen)) == [1, 2]
    # the paper's own coefficients have nothing to be compared with; family-seeds needs a family
    assert family_comparison(search, {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}) is None
    with pytest.raises(effnet.InputError, match="family-seeds trains Step 2's family"):
        CoefficientSearch(base, family_seeds=3)


def test_hyperband_prunes_weak_candidates_and_records_the_compute_saved(tmp_path: Path, fashion_mnist: str,
                                                                       monkeypatch) -> None:
    base = study_baseline("efficientnet-b0-small", 16)
    search = CoefficientSearch(base, step=0.1, tolerance=0.3, seeds=1, confirm=0, pruner="hyperband",
                               proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32))
    ranks = {label(*c): i for i, c in enumerate(sorted(search.networks()))}
    monkeypatch.setattr("effnet.search.coefficients.train_trial",
                        _fake_trial(lambda spec, seed: (90.0 - 2 * ranks[_candidate(spec)], 50.0)))
    data = run_coefficient_search(search, tmp_path / "mf", progress=False)
    compute = data["compute"]
    assert compute["trials_pruned"] > 0 and compute["fraction_of_full_grid"] < 1.0
    best = min(ranks, key=ranks.get)
    assert label(data["alpha"], data["beta"], data["gamma"]) == best  # the same choice as the full grid
    assert "Multi-fidelity" in (tmp_path / "mf" / "report.md").read_text()


# ----- 8. fail fast, never lock ----------------------------------------------------------------------------------
def test_a_study_with_bad_data_exits_2_in_seconds_with_nothing_written(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "tiny.json"
    spec.write_text(TINY.to_json())
    out = tmp_path / "study"
    started = time.time()
    code = main(["experiment", "scaling", str(spec), "--data", str(tmp_path / "no-such-data"), "--budgets", "2x",
                 "--epochs", "1", "--output", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no-such-data" in err
    assert time.time() - started < 10 and not out.exists()


def test_every_candidate_failing_stops_the_search_after_max_failures(tmp_path: Path, fashion_mnist: str,
                                                                     monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the same error every time")

    monkeypatch.setattr("effnet.search.architecture.train_trial", broken)
    search = ArchitectureSearch(SearchSpace(TINY), target=5e6, trials=50, sampler="random", confirm=0,
                                proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32))
    with pytest.raises(effnet.InputError, match="3 trials in a row failed with the same error: RuntimeError"):
        run_architecture_search(search, tmp_path / "nas", progress=False, max_failures=3)
    states = json.loads((tmp_path / "nas" / "candidates.json").read_text())["candidates"]
    assert [c["state"] for c in states] == ["fail"] * 3  # stopped: not 50 proposals, and never in a loop
    capsys.readouterr()


def test_a_folder_with_no_finished_trial_is_reused_and_overwrite_starts_afresh(tmp_path: Path, fashion_mnist: str,
                                                                               monkeypatch, capsys) -> None:
    spec = tmp_path / "tiny.json"
    spec.write_text(TINY.to_json())
    out = tmp_path / "study"

    def args(*extra: str) -> list[str]:
        return ["experiment", "scaling", str(spec), "--data", "fashion-mnist", "--data-dir", fashion_mnist,
                "--methods", "width", "--budgets", "2x", "--epochs", "1", "--limit-train", "32", "--limit-val", "32",
                "--limit-test", "32", "--batch-size", "16", "--output", str(out), "--no-progress", *extra]

    def broken(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr("effnet.experiments.scaling.train_trial", broken)
    assert main(args("--max-failures", "2")) == 2  # every trial fails: the study stops after two
    assert "2 trials in a row failed" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(args("--seeds", "2")) == 0  # another configuration: accepted, as nothing had finished
    assert "no finished trial: replaced" in capsys.readouterr().err
    assert main(args()) == 2  # now the folder holds finished trials of the 2-seed study
    assert "--overwrite" in capsys.readouterr().err
    assert main(args("--overwrite")) == 0
    assert json.loads((out / "results.json").read_text())["inputs"]["seeds"] == 1


def test_the_fidelity_check_reports_rank_agreement_and_verdicts_that_change() -> None:
    from effnet.experiments.scaling_report import fidelity_check

    rows = []
    for seed, offset in enumerate((0.0, 0.3, -0.2)):
        for method, long, short in (("baseline", 80.0, 70.0), ("compound", 85.0, 70.1), ("width", 83.0, 74.0),
                                    ("depth", 82.0, 72.0), ("resolution", 84.0, 73.0)):
            budget = 1.0 if method == "baseline" else 2.0
            jitter = 0.05 * seed * (1 if method == "compound" else -1)
            for epochs, value in ((4, long), (2, short)):
                rows.append({"method": method, "budget": budget, "seed": seed, "schedule_epochs": epochs,
                             "val_top1": value + offset + jitter, "test_top1": value + offset + jitter})
    (check,) = fidelity_check(rows, 4, "test")
    assert check["epochs"] == 2 and check["networks"] == 5
    assert check["kendall_tau_val"] < 0.5  # the short schedule ranks the networks very differently
    changed = {c["against"]: (c["main"], c["here"]) for c in check["changed_verdicts"]}
    assert changed["width"] == ("better", "worse") and changed["resolution"] == ("better", "worse")


def test_eval_scores_the_held_out_validation_split_of_a_run(tmp_path: Path, fashion_mnist: str, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", str(_spec_file(tmp_path)), "--data", "fashion-mnist", "--data-dir",
                 fashion_mnist, "--val-split", "holdout", "--epochs", "1", "--limit-train", "32", "--limit-val", "40",
                 "--batch-size", "16", "--output", str(out), "--no-progress", "--recipe", "proxy", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["last"]["test_top1"] is not None  # the test split, scored once at the end
    assert main(["eval", "--weights", str(out / "last.pt"), "--data", "fashion-mnist", "--data-dir", fashion_mnist,
                 "--val-split", "holdout", "--limit-val", "40", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"]["top1"] == pytest.approx(summary["last"]["val_top1"])  # the same 40 held-out images
    assert result["model"]["count"] == 40


def _spec_file(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(TINY.to_json())
    return path


@pytest.mark.parametrize(("longer", "verdict"), [
    ((89.60, 89.95, 89.70), "converged: "),  # +0.24, +0.35, +0.30: the whole interval within 0.5
    ((89.85, 89.48), "converged by the mean, not shown by the interval"),  # the recorded +0.49, -0.12
    ((90.75, 91.00), "NOT converged"),  # +1.39, +1.40
])
def test_the_convergence_verdict_is_as_strong_as_its_interval(longer: tuple[float, ...], verdict: str) -> None:
    shorter = (89.36, 89.60, 89.40)[: len(longer)]
    check = ConvergenceCheck(TINY, ProxySchedule(epochs=6), seeds=len(longer))
    rows = [{"epochs": 6, "seed": s, "val_top1": v, "seconds": 1.0} for s, v in enumerate(shorter)]
    rows += [{"epochs": 12, "seed": s, "val_top1": v, "seconds": 2.0} for s, v in enumerate(longer)]
    summary = summarize_check(rows, check)
    assert summary["verdict"].startswith(verdict), summary["verdict"]
    assert summary["converged_interval"] == (verdict == "converged: ")
    assert summary["converged"] == (verdict != "NOT converged")


def test_a_verdict_between_networks_of_unequal_cost_says_so() -> None:
    """With ceil rounding a small baseline's compound network can land a quarter below its budget (the full-size
    baseline: 1.52x or 2.49x, never 2x); the report then says the verdict compares unequal compute."""
    summary = [{"method": "compound", "budget": 2.0, "macs": 13.75e6}, {"method": "width", "budget": 2.0, "macs": 18e6},
               {"method": "depth", "budget": 2.0, "macs": 18.7e6}, {"method": "compound", "budget": 4.0, "macs": 36e6},
               {"method": "width", "budget": 4.0, "macs": 35e6}]
    compare = [{"budget": 2.0, "against": "width"}, {"budget": 2.0, "against": "depth"},
               {"budget": 4.0, "against": "width"}]
    lines = unequal_costs(compare, summary)
    assert len(lines) == 2 and all(line.startswith("- Not at equal cost: at 2x") for line in lines)
    assert "(-24%)" in lines[0] and "(-26%)" in lines[1]


def test_a_budget_rounding_cannot_reach_is_said_before_anything_trains() -> None:
    """The recorded full-size baseline (B0-small at width 0.5, 16 px): with ceil repeat rounding compound scaling
    jumps from 1x to 1.52x MACs at the smallest phi and next to 2.49x, so 2x is out of reach; nearest rounding
    reaches it. The study warns at sizing time, before hours of training compare unequal compute."""
    base = effnet.get_spec(str(Path(__file__).parents[1] / "docs/results/full-size/baseline.json"))
    for rounding, warned in (("ceil", True), ("nearest", False)):
        study = ScalingStudy(base, budgets=(2.0,), proxy=ProxySchedule(epochs=1), num_classes=10,
                             repeat_rounding=rounding)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            networks = size_networks(study)
        said = [str(w.message) for w in caught if issubclass(w.category, ScalingWarning)]
        assert said == (["compound scaling reaches 2x MACs only within -24% (rounding leaves no closer network; "
                         "nearest repeat rounding may get closer): its comparisons at this budget will be of unequal "
                         "cost"] if warned else []), said
        assert (abs(networks["compound@2x"]["error"]) > 0.2) == warned


def test_an_interval_that_excludes_zero_alone_is_called_a_lean_once_holm_says_otherwise() -> None:
    """The table's 95% interval is each comparison's own, the verdict is for all of them (Holm): the full-size study
    at 4x had +1.49 [+0.60, +2.38] against depth beside "not distinguishable", and the words must say why."""
    lean = {"budget": 4.0, "against": "depth", "verdict": "not distinguishable", "mean": 1.49, "low": 0.6,
            "high": 2.38, "p": 0.03, "p_holm": 0.18, "n": 2}
    wide = {"budget": 2.0, "against": "width", "verdict": "not distinguishable", "mean": 0.56, "low": -1.31,
            "high": 2.44, "p": 0.3, "p_holm": 0.5, "n": 3}
    words = "\n".join(conclusion([lean, wide], [], "test"))
    assert "Against depth at 4x (p = 0.03, Holm 0.18) the interval alone excludes 0, but not once corrected for " \
           "the 2 comparisons of this report: a lean, not a verdict." in words
    assert "width at 2x (p" not in words
    assert "a lean" not in "\n".join(conclusion([wide], [], "test"))
