"""Issue 3: latency method (bench), and the profile / scale / bench CLI commands."""

from __future__ import annotations

import json

import pytest

from effnet.cli import main
from effnet.deploy import bench as bench_module
from effnet.deploy.bench import Timing, bench, format_table, peer_model, time_runner


def test_time_runner_warms_up_then_times_each_run() -> None:
    calls: list[int] = []
    timing = time_runner(lambda: calls.append(1), runs=20, warmup=3)
    assert len(calls) == 23 and len(timing.times) == 20
    low, high = timing.spread
    assert min(timing.times) <= low <= timing.median <= high <= max(timing.times)


def test_timing_summary() -> None:
    timing = Timing((0.004, 0.001, 0.003, 0.002, 0.100))
    assert timing.median == 0.003
    assert timing.spread == (0.002, 0.004)


def test_bad_runs_are_errors() -> None:
    from effnet import SpecError

    with pytest.raises(SpecError):
        time_runner(lambda: None, runs=0)
    with pytest.raises(SpecError):
        bench(["squeezenet1-1"], threads=0)
    with pytest.raises(SpecError):
        bench(["squeezenet1-1"], compare=["keras"])


def test_bench_times_effnet_and_peers_in_one_run() -> None:
    rows = bench(["squeezenet1-1"], resolution=32, runs=3, warmup=1, compare=["timm", "torchvision"])
    assert [(r.library, r.runs, r.resolution, r.threads) for r in rows] == [
        ("effnet", 3, 32, 1), ("torchvision", 3, 32, 1)]  # timm has no SqueezeNet: skipped, not faked
    assert rows[0].ratio == 1.0 and rows[1].ratio == pytest.approx(rows[1].median_ms / rows[0].median_ms, rel=0.01)
    assert "torchvision" in format_table(rows)


def test_runtimes_are_pluggable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5 adds runtimes by registering a runner factory; the timing code does not change."""
    seen: list[int] = []

    def fake_runtime(model: object, resolution: int) -> object:
        seen.append(resolution)
        return lambda: None

    monkeypatch.setitem(bench_module.RUNTIMES, "fake", fake_runtime)
    rows = bench(["squeezenet1-1"], resolution=40, runs=2, warmup=0, runtime="fake")
    assert seen == [40] and rows[0].library == "effnet (fake)"  # a row says which runtime ran it


def test_peer_models_have_the_same_parameter_count() -> None:
    import effnet

    for name in ("mobilenet-v2", "resnet18"):
        for library in ("timm", "torchvision"):
            peer = peer_model(library, name)
            assert sum(p.numel() for p in peer.parameters()) == effnet.profile(name).params
    assert peer_model("timm", "squeezenet1-0") is None


def test_cli_bench_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "shufflenet-v2-x0-5", "--resolution", "32", "--runs", "2", "--warmup", "0",
                 "--compare", "torchvision", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["library"] for r in rows] == ["effnet", "torchvision"]
    assert rows[0]["median_ms"] > 0


def test_cli_profile_and_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "25,557,032 parameters" in out and "4.089 GMACs" in out and "stages.3" in out
    assert main(["profile", "mobilenet-v1", "--resolution", "160", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["resolution"] == 160 and data["macs"] == pytest.approx(290e6, rel=0.01)
    assert main(["scale", "mobilenet-v2", "--phi", "1.5"]) == 0
    assert "width x" in capsys.readouterr().out
    assert main(["scale", "resnet18", "--target-macs", "2x", "--method", "resolution", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fit"]["method"] == "resolution" and abs(data["fit"]["error"]) < 0.05
    assert data["spec"]["resolution"] > 224


@pytest.mark.parametrize("argv", [
    ["profile", "no-such-model"],
    ["profile", "resnet50", "--width", "0"],
    ["profile", "resnet50", "--phi=-1e9"],
    ["scale", "mobilenet-v2", "--depth=-1"],
    ["scale", "resnet50", "--target-macs", "1M", "--method", "depth"],
    ["scale", "resnet50", "--target-macs", "lots"],
    ["scale", "resnet50", "--target-macs", "2x", "--phi", "1"],
    ["bench", "no-such-model", "--runs", "1"],
    ["bench", "resnet18", "--warmup=-1", "--runs", "1", "--resolution", "32"],
])
def test_cli_user_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("effnet: error:") and "\n" not in err


@pytest.mark.parametrize("argv", [["bench", "resnet18", "--runs", "0"], ["bench", "resnet18", "--compare", "keras"],
                                  ["scale", "resnet50", "--target-macs", "2x", "--method", "magic"]])
def test_cli_bad_options_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_interleaved_timing_is_round_robin() -> None:
    from effnet.deploy.bench import time_interleaved

    order: list[str] = []
    timings = time_interleaved([lambda: order.append("a"), lambda: order.append("b")], runs=3, warmup=1)
    assert order == ["a", "b", "a", "b", "a", "b", "a", "b"]  # one warm-up each, then alternating
    assert [len(t.times) for t in timings] == [3, 3]
