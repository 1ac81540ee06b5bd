"""The experiment engine on Optuna: a fixed plan of trials run by K processes without duplicating or losing one,
resumed after a crash without re-running finished trials, refusing a folder of another configuration, and shared
by two workers through a real PostgreSQL server."""

from __future__ import annotations

import gc
import json
import os
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from effnet.engine import Engine, Plan, Record, TrialContext, throughput, trial_key
from effnet.engine.display import Display
from effnet.engine.plan import NOT_RESULTS, STALE, error_of
from effnet.errors import InputError

TOY = "test_engine:toy"


def toy(params: dict, context: TrialContext) -> dict:
    """Sleeps a little (so workers overlap), logs who ran it, and can crash its process once (`crash_once`)."""
    context.folder.mkdir(parents=True, exist_ok=True)
    runs = context.folder / "runs.txt"
    with runs.open("a") as handle:
        handle.write(f"{os.getpid()}\n")
    if params.get("meet"):  # wait (a minute at most) until two worker processes have each started a trial
        arrived = context.folder.parent.parent / "arrived"
        arrived.mkdir(exist_ok=True)
        (arrived / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while len(list(arrived.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    if params.get("crash_once") and len(runs.read_text().splitlines()) == 1:
        os._exit(17)  # the process dies mid-trial, as under kill -9
    if params.get("fail"):
        raise ValueError("this trial always fails")
    if params.get("report"):  # each trial reports a worse value than the last: a median pruner would stop them
        context.report(1, -float(params["x"]))
    time.sleep(0.3)
    return {"value": float(params["x"]) ** 2, "pid": os.getpid(), "offset": context.derived.get("offset")}


def plan(n: int = 8, **extra: object) -> Plan:
    return Plan("toy-study", {"n": n, **{k: str(v) for k, v in extra.items()}},
                tuple({"x": x, **extra} for x in range(n)))


def runs(folder: Path) -> dict[int, int]:
    counts = {}
    for path in (folder / "trials").iterdir():
        x = int(path.name.split("-")[0])
        counts[x] = len((path / "runs.txt").read_text().splitlines())
    return counts


def test_two_local_workers_share_the_plan_without_duplicates(tmp_path: Path) -> None:
    engine = Engine(plan(8, meet=True), tmp_path / "study")  # both workers start before either goes on
    assert engine.derived("offset", lambda: 7) == 7 and engine.derived("offset", lambda: 9) == 7  # computed once
    counts = engine.run(TOY, workers=2, progress=False)
    assert counts == {"planned": 8, "done": 8, "running": 0, "failed": 0, "interrupted": 0, "waiting": 0}
    records = engine.records()
    assert [r.params["x"] for r in records] == list(range(8)) and all(r.state == "complete" for r in records)
    assert [r.metrics["value"] for r in records] == [x * x for x in range(8)]
    assert all(r.metrics["offset"] == 7 for r in records)  # every worker saw the shared derived data
    assert runs(tmp_path / "study") == {x: 1 for x in range(8)}  # each trial ran exactly once
    assert len({r.metrics["pid"] for r in records}) == 2  # both workers did work
    # a second run has nothing to do and runs nothing again
    assert Engine(plan(8, meet=True), tmp_path / "study").run(TOY, workers=2, progress=False)["done"] == 8
    assert runs(tmp_path / "study") == {x: 1 for x in range(8)}
    saved = json.loads((tmp_path / "study" / "study.json").read_text())
    assert saved["kind"] == "toy-study" and saved["inputs"] == {"n": 8, "meet": "True"}


def test_a_crashed_worker_is_resumed_without_rerunning_finished_trials(tmp_path: Path) -> None:
    crashy = Plan("toy-study", {"n": 4, "crash": True},
                  tuple({"x": x, "crash_once": x == 2} for x in range(4)))
    with pytest.warns(UserWarning, match="ended with exit code 17"):  # one worker died in trial x=2
        first = Engine(crashy, tmp_path / "study").run(TOY, workers=2, progress=False)
    # the dead worker's trial was failed at once (its process is gone) and run again in the same command
    assert first == {"planned": 4, "done": 4, "running": 0, "failed": 0, "interrupted": 0, "waiting": 0}
    counts = runs(tmp_path / "study")
    assert counts[2] == 2 and all(counts[x] == 1 for x in (0, 1, 3))  # only the crashed trial ran again
    # the dead attempt is recorded as failed; any other FAIL is the engine's no-op of a worker that found the queue
    # just emptied by the other (both respawned workers race for the one re-queued trial)
    failures = [error_of(t) for t in Engine(crashy, tmp_path / "study").trials()
                if t.state == optuna.trial.TrialState.FAIL]
    assert [e for e in failures if e not in NOT_RESULTS] == [STALE]


def test_no_more_workers_start_than_queued_trials(tmp_path: Path) -> None:
    """Two workers for one trial: the second would only find the queue empty and leave a no-op trial behind."""
    engine = Engine(plan(1), tmp_path / "study")
    assert engine.run(TOY, workers=2, progress=False)["done"] == 1
    assert [t.state for t in engine.trials()] == [optuna.trial.TrialState.COMPLETE]


def test_a_failing_trial_is_recorded_and_the_rest_go_on(tmp_path: Path, capsys) -> None:
    failing = Plan("toy-study", {"n": 3, "fail": True}, tuple({"x": x, "fail": x == 1} for x in range(3)))
    engine = Engine(failing, tmp_path / "study")
    counts = engine.run(TOY, workers=1, progress=False)
    assert counts["done"] == 2 and counts["failed"] == 1
    failed = [r for r in engine.records() if r.state == "fail"]
    assert failed[0].params["x"] == 1 and "always fails" in failed[0].metrics["error"]
    assert "failed: ValueError: this trial always fails" in capsys.readouterr().err


def test_a_duplicate_enqueue_runs_once(tmp_path: Path) -> None:
    engine = Engine(plan(3), tmp_path / "study")
    engine.enqueue_missing()
    engine.study.enqueue_trial({"x": 1}, user_attrs={"effnet.key": trial_key({"x": 1})})  # a racing coordinator
    engine.run(TOY, workers=1, progress=False)
    assert runs(tmp_path / "study") == {0: 1, 1: 1, 2: 1}
    assert engine.counts()["done"] == 3


def test_a_folder_of_another_configuration_or_kind_is_refused(tmp_path: Path) -> None:
    Engine(plan(3), tmp_path / "study").run(TOY, progress=False)
    with pytest.raises(InputError, match=r"different configuration \(n: was 3, now 4\)"):
        Engine(plan(4), tmp_path / "study")
    with pytest.raises(InputError, match="holds a toy-study study, not a other-study"):
        Engine(Plan("other-study", {"n": 3}, ({"x": 1},)), tmp_path / "study")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "study.json").write_text("{not json")
    with pytest.raises(InputError, match="damaged"):
        Engine(plan(3), tmp_path / "junk")
    (tmp_path / "journal-only").mkdir()
    (tmp_path / "journal-only" / "study.journal").write_text("garbage\n")
    with pytest.raises(InputError, match="not an effnet study folder"):
        Engine(plan(3), tmp_path / "journal-only")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        Engine(plan(3), tmp_path / "afile")


def test_the_folder_record_is_written_before_the_journal_and_removed_when_the_study_cannot_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second command on the same folder refuses a journal without study.json as damaged: the record must come first.
    import effnet.engine.study as engine_study

    folder, seen = tmp_path / "study", []
    opened = engine_study.open_storage

    def spy(output: Path, url: str | None, *, create: bool = True):
        if create:
            seen.append([(folder / "study.json").exists(), (folder / "study.journal").exists()])
        return opened(output, url, create=create)

    monkeypatch.setattr(engine_study, "open_storage", spy)
    assert Engine(plan(2), folder).study.study_name.startswith("effnet-toy-study")
    assert seen == [[True, False]] and (folder / "study.journal").exists()

    def unusable(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(optuna, "create_study", unusable)
    with pytest.raises(InputError, match=r"cannot open the study in .*database is locked"):
        _ = Engine(plan(2), tmp_path / "fresh").study
    assert not (tmp_path / "fresh" / "study.json").exists()  # nothing of the failed call is left
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "study.json").write_text((folder / "study.json").read_text())
    with pytest.raises(InputError, match="database is locked"):
        _ = Engine(plan(2), kept).study
    assert (kept / "study.json").exists()  # a record this call did not write is kept


def test_an_unreachable_storage_url_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot reach the study storage"):
        Engine(plan(2), tmp_path / "study", storage="postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(InputError) as info:
        Engine(plan(2), tmp_path / "study2", storage="postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)  # the password is never printed


def test_two_workers_share_one_study_through_postgresql(tmp_path: Path, postgres_url: str) -> None:
    shared = Plan("toy-study", {"n": 6, "db": True}, tuple({"x": x} for x in range(6)))
    # two coordinators (as on two machines), each with its own folder and one worker, one shared database
    first = Engine(shared, tmp_path / "machine-a", storage=postgres_url)
    second = Engine(shared, tmp_path / "machine-b", storage=postgres_url)
    first.enqueue_missing()
    second.enqueue_missing()  # idempotent: nothing is enqueued twice
    assert len(first.trials()) == 6
    import multiprocessing

    from effnet.engine import WorkerJob, work

    context = multiprocessing.get_context("spawn")
    jobs = [WorkerJob(shared, str(tmp_path / name), postgres_url, TOY, 1, index)
            for index, name in enumerate(("machine-a", "machine-b"))]
    processes = [context.Process(target=work, args=(job,)) for job in jobs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
        assert process.exitcode == 0
    records = first.records()
    assert sorted(r.params["x"] for r in records) == list(range(6)) and all(r.state == "complete" for r in records)
    ran = {**runs(tmp_path / "machine-a"), **runs(tmp_path / "machine-b")}
    assert ran == {x: 1 for x in range(6)}  # every trial once, across both machines' workers
    assert (tmp_path / "machine-a" / "trials").is_dir() and (tmp_path / "machine-b" / "trials").is_dir()


def test_a_dropped_database_study_leaves_no_connection_open(tmp_path: Path, postgres_url: str) -> None:
    """Optuna's RDBStorage has no close: pooled connections outlived the storage and psycopg warned of each when
    the garbage collector found them, in whatever ran next (CI saw the warning inside a CLI's one-line error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = Engine(plan(2), tmp_path / "study", storage=postgres_url)
        engine.enqueue_missing()
        assert len(engine.trials()) == 2
        del engine
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_throughput_counts_busy_time_only():
    """A study stopped for an hour and resumed: the idle hour is not part of its trials per hour."""
    def record(number: int, start: float, finish: float, state: str = "complete") -> Record:
        return Record(number, state, {}, {"started": start, "finished": finish})

    records = [record(0, 0, 600), record(1, 300, 900), record(2, 4500, 5400), record(3, 5000, 5100, "running")]
    result = throughput(records)
    assert result["trials"] == 3
    assert result["wall_hours"] == round((900 + 900) / 3600, 3)
    assert result["trials_per_hour"] == round(3 / 0.5, 2)
    assert throughput([record(0, 0, 10, "failed")]) is None


@pytest.mark.parametrize("workers", [1, 2])
def test_a_study_without_a_pruner_never_prunes(tmp_path: Path, workers: int) -> None:
    """Optuna gives a study loaded without a pruner its default MedianPruner; every process must use the plan's."""
    engine = Engine(plan(8, report=True), tmp_path / "study")
    assert engine.run(TOY, workers=workers, progress=False)["done"] == 8
    assert [r.state for r in engine.records()] == ["complete"] * 8
    assert {t.state.name for t in engine.trials()} == {"COMPLETE"}


def test_a_pruning_plan_prunes_and_a_stray_pruned_trial_runs_again_where_the_plan_does_not_prune(
        tmp_path: Path) -> None:
    pruning = Plan("toy-study", {"n": 8, "report": "True"}, tuple({"x": x, "report": True} for x in range(8)),
                   pruner="median")
    engine = Engine(pruning, tmp_path / "study")
    assert engine.run(TOY, progress=False)["done"] == 8
    pruned = {r.params["x"] for r in engine.records() if r.state == "pruned"}
    assert pruned and pruned <= set(range(4, 8))  # four startup trials, then below-median ones stop
    # the same study under a plan that does not prune: its pruned trials have no result and run again
    steady = Engine(plan(8, report=True), tmp_path / "study")
    assert steady.counts()["done"] == 8 - len(pruned)
    assert steady.run(TOY, progress=False)["done"] == 8
    assert [r.state for r in steady.records()] == ["complete"] * 8
    assert runs(tmp_path / "study") == {x: 2 if x in pruned else 1 for x in range(8)}
    with pytest.raises(InputError, match="pruner must be one of"):
        Plan("toy-study", {"n": 1}, ({"x": 1},), pruner="sometimes")


def stop_at_two(params: dict, context: TrialContext) -> dict:
    """Finishes trials 0 and 1, then Ctrl-C arrives during trial 2."""
    if params["x"] == 2:
        raise KeyboardInterrupt
    return {"value": float(params["x"])}


def test_a_run_stopped_early_still_writes_its_outputs_from_the_finished_trials(tmp_path: Path) -> None:
    engine = Engine(plan(4), tmp_path / "study")
    written = []

    def write(counts: dict[str, int]) -> int:
        written.append((counts, [r.params["x"] for r in engine.records() if r.state == "complete"]))
        return counts["done"]

    with pytest.raises(KeyboardInterrupt):
        engine.run_and_write("test_engine:stop_at_two", write, progress=False)
    assert written == [({"planned": 4, "done": 2, "running": 0, "failed": 0, "interrupted": 1, "waiting": 1}, [0, 1])]
    assert engine.run_and_write(TOY, write, progress=False) == 4  # resumed: the rest runs, then it writes once more
    assert written[-1][1] == [0, 1, 2, 3]


class _Counted:
    """A stand-in for the engine: a plan with a kind and four trials, and counts set by the test."""

    def __init__(self) -> None:
        self.plan = SimpleNamespace(kind="study", trials=[{}] * 4)
        self.now = {"planned": 4, "done": 0, "running": 1, "waiting": 3, "failed": 0}

    def counts(self) -> dict[str, int]:
        return dict(self.now)


def test_progress_without_a_terminal_prints_a_line_per_change_of_counts_not_per_eta_tick(capsys, monkeypatch):
    clock = iter(range(1000, 2000, 7))
    monkeypatch.setattr("effnet.engine.display.time.time", lambda: next(clock))
    engine = _Counted()
    with Display(engine, enabled=True) as display:
        engine.now.update(done=1, waiting=2)  # one finished: the ETA becomes a number and then ticks on every update
        for _ in range(5):
            display.update()
        engine.now.update(done=2, running=2, waiting=0)
        display.update()
    lines = capsys.readouterr().err.splitlines()
    assert [line.rpartition(", ETA ")[0] for line in lines] == [
        "study: 0 done, 1 running, 3 left", "study: 1 done, 1 running, 2 left", "study: 2 done, 2 running, 0 left"]
    assert lines[0].endswith("ETA ?") and not lines[1].endswith("?")


def test_a_coordinator_waits_for_a_trial_another_machine_still_runs(tmp_path: Path) -> None:
    import threading

    engine = Engine(plan(3), tmp_path / "study")
    engine.enqueue_missing()
    remote = engine.study.ask()  # another machine takes trial x=0 and still runs it
    remote.set_user_attr("effnet.worker", "another-host:4242")
    remote.set_user_attr("effnet.heartbeat", time.time())
    key = remote.user_attrs["effnet.key"]
    finished = threading.Timer(3.0, lambda: engine.study.tell(remote, 0.0))
    finished.start()
    started = time.time()
    counts = engine.run(TOY, workers=1, progress=False)
    finished.join()
    assert counts["done"] == 3 and counts["running"] == 0  # it waited: the results are not stale
    assert time.time() - started >= 3.0 and json.loads(key) == {"x": 0}
