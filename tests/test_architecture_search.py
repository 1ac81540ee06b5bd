"""Baseline architecture search in MnasNet's space: every sampled point is a valid spec, genotypes round-trip, the
reward is the paper's formula, a tiny search runs end to end on real data, resumes after kill -9 without
re-running finished candidates, shares one study between two workers, serves repeats from its cache, and refuses
bad inputs in one line; the comparison of a searched network with hand-designed baselines of its MACs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

import effnet
from effnet.cli import main
from effnet.errors import InputError
from effnet.experiments import Comparison, run_comparison
from effnet.experiments.trial import ProxySchedule
from effnet.search import (
    ArchitectureSearch,
    RegularizedEvolutionSampler,
    SearchSpace,
    pareto_front,
    reward,
    run_architecture_search,
)
from effnet.search.space import StageChoice

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.2).replace(resolution=16, name="tiny-small")


def random_point(space: SearchSpace, rng: random.Random) -> tuple[StageChoice, ...]:
    return space.choose(lambda name, options: rng.choice(list(options)))


def test_every_sampled_point_is_a_spec_that_builds_profiles_and_prints() -> None:
    space = SearchSpace(TINY)
    rng = random.Random(0)
    for _ in range(25):
        choices = random_point(space, rng)
        spec = space.spec(choices)
        model = effnet.build(spec, num_classes=10)
        assert effnet.profile(spec, num_classes=10).params == sum(p.numel() for p in model.parameters())
        for stage, choice, ref in zip(spec.stages, choices, TINY.stages):
            assert stage.stride == ref.stride and stage.repeats == max(1, ref.repeats + choice.depth)
            assert stage.kernel == choice.kernel and (stage.op == "mbconv") == choice.block.startswith("mbconv")
        assert effnet.NetSpec.from_json(spec.to_json()) == spec  # what `effnet info --json` prints


def test_genotypes_round_trip_and_are_canonical() -> None:
    space = SearchSpace(TINY)
    rng = random.Random(1)
    for _ in range(50):
        choices = random_point(space, rng)
        genotype = space.encode(choices)
        assert space.decode(genotype) == choices and space.encode(space.decode(genotype)) == genotype
        assert space.from_params(space.params(choices)) == choices
    # a plain conv has no SE and no residual: two proposals that differ only there are one genotype
    a = StageChoice("conv", 3, 0.25, "identity", 1.0, 0).canonical()
    assert a == StageChoice("conv", 3, 0.0, "none", 1.0, 0) and a.token() == "conv-k3-se0-n-w1-d+0"
    reference = space.reference_point()
    assert reference is not None and space.spec(reference).stages == TINY.stages
    with pytest.raises(InputError, match="outside this search space"):
        space.decode(space.encode(reference).replace("w1-", "w2-", 1))
    with pytest.raises(InputError, match="stages"):
        space.decode("mbconv6-k3-se1-i-w1-d+0")


def test_the_reward_is_the_papers_formula() -> None:
    assert reward(0.8, 400e6, 400e6) == pytest.approx(0.8)
    assert reward(0.8, 800e6, 400e6) == pytest.approx(0.8 * 2 ** -0.07)
    assert reward(0.8, 200e6, 400e6, w=-0.15) == pytest.approx(0.8 * 0.5 ** -0.15)
    assert pareto_front([(1, 50), (2, 60), (3, 55), (1, 40), (4, 70)]) == [(1, 50), (2, 60), (4, 70)]


def test_aging_evolution_mutates_one_choice_of_a_tournament_winner() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = RegularizedEvolutionSampler(population=6, sample=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    options = {f"p{i}": list(range(4)) for i in range(5)}

    def objective(trial: optuna.Trial) -> float:
        return sum(trial.suggest_categorical(name, choices) for name, choices in options.items())

    study.optimize(objective, n_trials=30)
    trials = study.trials
    for child in trials[6:]:
        parents = trials[max(0, child.number - 6):child.number]  # the population when it was proposed
        assert any(sum(child.params[n] != p.params[n] for n in options) <= 1 for p in parents), child.number
    assert study.best_value > sum(t.value for t in trials[:6]) / 6  # evolution climbs


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "tiny.json"
    path.write_text(TINY.to_json())
    return path


def search_args(reference: Path, data_dir: str, out: Path, *extra: str) -> list[str]:
    return ["search", "architecture", "--reference", str(reference), "--target-macs", "3M", "--data",
            "fashion-mnist", "--data-dir", data_dir, "--epochs", "1", "--limit-train", "32", "--limit-val", "32",
            "--limit-test", "32", "--batch-size", "16", "--output", str(out), "--no-progress", *extra]


def strict_json(text: str):
    def reject(constant: str):
        raise AssertionError(constant)

    return json.loads(text, parse_constant=reject)


def test_a_tiny_search_end_to_end_with_two_workers(tmp_path: Path, tiny_spec: Path, fashion_mnist: str,
                                                    capsys) -> None:
    out = tmp_path / "nas"
    assert main(search_args(tiny_spec, fashion_mnist, out, "--trials", "6", "--sampler", "random", "--workers", "2",
                            "--confirm", "2", "--confirm-seeds", "2", "--json")) == 0
    data = strict_json(capsys.readouterr().out)
    finished = [c for c in data["candidates"] if c["state"] == "complete"]
    assert len(finished) == 6  # exactly the budget, shared by both workers
    assert finished[0]["genotype"] == SearchSpace(TINY).encode(SearchSpace(TINY).reference_point())
    for c in finished:
        assert set(c) >= {"genotype", "val_top1", "test_top1", "macs", "latency_ms", "params", "reward"}
        assert c["reward"] == pytest.approx(c["val_top1"] / 100 * (c["macs"] / 3e6) ** -0.07, rel=1e-4)
    confirm = data["confirm"]  # the best two trained again with two fresh seeds; the result is chosen among them
    assert len(confirm["candidates"]) == 2 and confirm["first_seed"] == 1 and data["choice_source"] == "confirm"
    assert f"trial-{data['best']['number']}" == confirm["winner"]["model"]
    trained = [c["genotype"] for c in finished if c["cached_from"] is None]
    assert len(trained) == len(set(trained))  # no genotype trained twice
    best = effnet.get_spec(out / "best.json")  # a spec file every command accepts
    assert main(["info", str(out / "best.json")]) == 0 and best.resolution == 16
    capsys.readouterr()
    for name in ("pareto.png", "trajectory.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "Top candidates by reward" in (out / "report.md").read_text()
    assert main(["scale", str(out / "best.json"), "--phi", "1", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["spec"]["resolution"] > 16


def test_a_repeated_genotype_is_served_from_the_cache(tmp_path: Path, fashion_mnist: str) -> None:
    # a space of one network: every proposal after the first is a repeat
    space = SearchSpace(TINY, blocks=("mbconv6",), kernels=(3,), se_ratios=(0.25,), skips=("identity",),
                        widths=(1.0,), depths=(0,))
    assert space.size() == 1 and space.reference_point() is None
    search = ArchitectureSearch(space, 3e6, trials=3, sampler="random", confirm=0,
                                proxy=ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32,
                                                    limit_test=32, batch_size=16))
    data = run_architecture_search(search, tmp_path / "nas", progress=False)
    finished = [c for c in data["candidates"] if c["state"] == "complete"]
    assert len(finished) == 3 and len({c["genotype"] for c in finished}) == 1
    first = finished[0]
    assert first["cached_from"] is None
    assert all(c["cached_from"] == first["number"] and c["val_top1"] == first["val_top1"] for c in finished[1:])
    assert len(list((tmp_path / "nas" / "trials").glob("*-seed0"))) == 1  # trained once


def test_a_killed_search_resumes_without_retraining_finished_candidates(tmp_path: Path, tiny_spec: Path,
                                                                        fashion_mnist: str) -> None:
    out = tmp_path / "nas"
    command = [sys.executable, "-m", "effnet", *search_args(tiny_spec, fashion_mnist, out, "--trials", "4",
                                                             "--sampler", "evolution", "--population", "2",
                                                             "--confirm", "0")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished: dict[str, int] = {}
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
        finished = {p.name: (p / "last.pt").stat().st_mtime_ns for p in (out / "trials").glob("*-seed0")
                    if (p / "metrics.jsonl").is_file() and (p / "metrics.jsonl").read_text().strip()}
        if len(finished) >= 2:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert len(finished) >= 2 and process.returncode == -signal.SIGKILL, "the search ended before it was killed"
    assert main(search_args(tiny_spec, fashion_mnist, out, "--trials", "4", "--sampler", "evolution",
                            "--population", "2", "--confirm", "0")) == 0
    data = json.loads((out / "candidates.json").read_text())
    assert len([c for c in data["candidates"] if c["state"] == "complete"]) == 4
    for name, stamp in finished.items():
        assert (out / "trials" / name / "last.pt").stat().st_mtime_ns == stamp, name


@pytest.mark.parametrize("case, extra, expect", [
    ("target no candidate can meet", ["--target-macs", "10k"], "no candidate can meet the target"),
    ("reference not in the space", ["--reference", "resnet18"], "is not in the search space"),
    ("latency without its target", ["--cost", "latency"], "needs --target-latency"),
    ("pruning two objectives", ["--sampler", "nsga2", "--prune"], "cannot prune"),
])
def test_bad_search_inputs_are_one_line_exit_2(tmp_path: Path, tiny_spec: Path, fashion_mnist: str, capsys, case,
                                               extra, expect) -> None:
    args = search_args(tiny_spec, fashion_mnist, tmp_path / "nas")
    for flag in ("--target-macs", "--reference"):
        if flag in extra:  # replace the default value
            index = args.index(flag)
            del args[index:index + 2]
    assert main([*args, *extra]) == 2, case
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("effnet: error:") and expect in err, (case, err)


def test_an_empty_space_and_a_foreign_or_corrupt_study_are_refused(tmp_path: Path, tiny_spec: Path,
                                                                   fashion_mnist: str, capsys) -> None:
    with pytest.raises(InputError, match="search space is empty"):
        SearchSpace(TINY, blocks=())
    scaling = tmp_path / "scaling"
    assert main(["experiment", "scaling", str(tiny_spec), "--data", "fashion-mnist", "--data-dir", fashion_mnist,
                 "--budgets", "2x", "--methods", "width", "--epochs", "1", "--limit-train", "16", "--limit-val",
                 "16", "--limit-test", "16", "--batch-size", "8", "--output", str(scaling), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(search_args(tiny_spec, fashion_mnist, scaling)) == 2
    assert "holds a scaling-study study, not a architecture-search" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "study.json").write_text('{"kind": "architecture-search", "inputs": [}')
    assert main(search_args(tiny_spec, fashion_mnist, corrupt)) == 2
    assert "damaged" in capsys.readouterr().err


def test_compare_sizes_baselines_to_the_searched_macs_and_trains_them_alike(tmp_path: Path, fashion_mnist: str,
                                                                            tiny_spec: Path) -> None:
    proxy = ProxySchedule(data_dir=fashion_mnist, epochs=1, limit_train=32, limit_val=32, limit_test=32,
                          batch_size=16, resolution=16)
    from effnet.experiments import model_spec

    models = {"searched": model_spec(str(tiny_spec), 16), "mobilenet-v2": model_spec("mobilenet-v2", 16),
              "b0-small": model_spec("efficientnet-b0-small", 16)}
    data = run_comparison(Comparison(models, seeds=2, proxy=proxy, size_to="b0-small"), tmp_path / "cmp",
                          progress=False, workers=2)
    summary = {s["model"]: s for s in data["summary"]}
    assert all(s["trials"] == 2 and s["resolution"] == 16 for s in summary.values())
    target = summary["b0-small"]["macs"]
    for name in ("mobilenet-v2", "searched"):
        assert summary[name]["fit_error"] == pytest.approx(summary[name]["macs"] / target - 1)
        if abs(summary[name]["fit_error"]) > 0.05:  # then no width reaches closer (8-channel steps)
            widths = [0.05 + i * 0.005 for i in range(800)]
            closest = min(abs(effnet.profile(effnet.scale(models[name], width=w), num_classes=10).macs / target - 1)
                          for w in widths)
            assert abs(summary[name]["fit_error"]) <= closest + 0.02, name
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "same schedule" in report.lower() and "Against b0-small" in report and "95% CI" in report
    assert {p["model"] for p in data["paired"]} == {"mobilenet-v2", "searched"}
