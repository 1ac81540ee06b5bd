"""Trials per hour of finished studies (scaling studies, coefficient and architecture searches, comparisons), from
their own records: finished trials over the wall-clock span from the first start to the last finish.
Run: .venv/bin/python benchmarks/study_throughput.py runs/demo-scaling runs/scaling-full ..."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import optuna

from effnet.engine import Record, throughput
from effnet.engine.storage import folder_storage


def study_throughput(folder: Path) -> dict:
    """Read a study folder's journal (never writing to it) and measure its trials per hour."""
    storage, name = folder_storage(folder)
    study = optuna.load_study(study_name=name, storage=storage)
    saved = json.loads((folder / "study.json").read_text())
    records = [Record(t.number, t.state.name.lower(), {},
                      {"started": t.datetime_start.timestamp(), "finished": t.datetime_complete.timestamp()})
               for t in study.get_trials(deepcopy=False) if t.datetime_start and t.datetime_complete]
    return {"study": str(folder), "kind": saved["kind"], **(throughput(records) or {})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="study folders (each with study.json)")
    args = parser.parse_args()
    for folder in args.folders:
        if not (folder / "study.json").is_file():
            print(f"study_throughput: error: {folder} is not a study folder (no study.json)", file=sys.stderr)
            return 2
        row = study_throughput(folder)
        print(f"{row['study']}: {row['kind']}, {row.get('trials', 0)} finished trials in {row.get('wall_hours')} h "
              f"of wall clock: {row.get('trials_per_hour')} trials per hour")
    return 0


if __name__ == "__main__":
    sys.exit(main())
