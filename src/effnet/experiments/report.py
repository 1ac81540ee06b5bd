"""`effnet report DIR`: write a study's report (and figures) again from its committed results alone -- no training,
no storage -- so that the tables of a recorded result can be regenerated and checked by anyone; given a folder of
studies (a recorded result: a scaling study, a search and its phases), every one of them, by one command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..architecture.spec import NetSpec
from ..engine import STUDY_FILE, TRIALS_FOLDER
from ..errors import InputError
from ..outputs import atomic_path
from ..search.coefficients import CoefficientSearch
from ..search.coefficients import markdown as coefficient_markdown
from . import compare, convergence, scaling_report
from .trial import ProxySchedule

RESULT_FILES = {"scaling-study": "results.json", "convergence-check": "results.json", "comparison": "results.json",
                "coefficient-confirm": "results.json", "architecture-confirm": "results.json",
                "family-comparison": "results.json", "coefficient-search": "coefficients.json"}
MAX_FOLDERS, MAX_DEPTH = 256, 8  # study folders one `effnet report` writes, and how deep it looks for them
MAX_SEARCHED = 10_000  # folders it looks into: `effnet report /` is refused at once, not after a walk of the disk


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"no {path.name} in {path.parent}: nothing to report from") from None
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or "inputs" not in data:
        raise InputError(f"{path} is not an effnet study's results")
    return data


def study_kind(folder: Path) -> str:
    """The kind a study folder records in its study.json."""
    record = folder / STUDY_FILE
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder" if folder.exists() else f"no such folder: {folder}")
    try:
        return str(json.loads(record.read_text())["kind"])
    except FileNotFoundError:
        raise InputError(f"{folder} is not an effnet study folder: no {STUDY_FILE}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{record} is damaged ({str(error).splitlines()[0]})") from None


def settings_of(data: dict[str, Any]) -> dict[str, int]:
    """A coefficient search's phases as its coefficients.json records them (older records: from what they hold)."""
    settings = data.get("settings")
    if isinstance(settings, dict):
        return {key: int(settings[key]) for key in ("confirm", "confirm_seeds", "family", "family_seeds")
                if isinstance(settings.get(key), int)}
    return {"confirm": len(data.get("confirm", {}).get("candidates", [])), "family": len(data.get("family") or [])}


def write_report(folder: str | Path, output: str | Path | None = None) -> list[Path]:
    """Write the report of the study in `folder` (and, for a scaling study, its figures) into `output` (default:
    the folder itself) from its results file; returns what was written. The results file is never changed."""
    folder = Path(folder)
    target = Path(output) if output is not None else folder
    kind = study_kind(folder)
    if kind not in RESULT_FILES:
        raise InputError(f"effnet report does not know a {kind} study")
    data = _read(folder / RESULT_FILES[kind])
    target.mkdir(parents=True, exist_ok=True)
    written = []
    if kind == "scaling-study":  # the tables and verdicts are recomputed from the trials, under today's rules
        inputs = data["inputs"]
        if data.get("trials"):
            data = {**data, **scaling_report.analyse([dict(row) for row in data["trials"]], inputs)}
        summary = data["summary"]
        note = scaling_report.scale_note(inputs, data["score_split"], len(data["trials"]))
        figures = scaling_report.write_figures(summary, target, inputs["baseline"]["name"], data["score_split"],
                                               inputs["proxy"]["epochs"], note,
                                               data.get("extrapolation")) if summary else {}
        written += [target / name for name in figures.values()]
        text = scaling_report.markdown({**data, "figures": figures})
    elif kind == "convergence-check":  # the verdict is recomputed from the trials, under today's rule
        inputs = data["inputs"]
        check = convergence.ConvergenceCheck(NetSpec.from_dict(inputs["baseline"]),
                                             ProxySchedule.from_dict(inputs["proxy"]), seeds=inputs["seeds"],
                                             tolerance=inputs["tolerance"], factor=inputs["factor"],
                                             num_classes=inputs.get("num_classes"))
        text = convergence.markdown({**data, **convergence.summarize_check(data["trials"], check)})
    elif kind == "coefficient-search":
        inputs = data["inputs"]
        search = CoefficientSearch(NetSpec.from_dict(inputs["baseline"]), step=inputs["step"], low=inputs["low"],
                                   high=inputs["high"], tolerance=inputs["tolerance"], target=inputs["target"],
                                   seeds=inputs["seeds"], proxy=ProxySchedule.from_dict(inputs["proxy"]),
                                   pruner=inputs["pruner"], num_classes=inputs.get("num_classes"),
                                   repeat_rounding=inputs.get("repeat_rounding", "ceil"),
                                   **settings_of(data))
        text = coefficient_markdown(data, search)
    else:
        text = compare.markdown(data)
    report = target / "report.md"
    with atomic_path(report) as temp:
        temp.write_text(text)
    return [report, *written]


def study_folders(root: str | Path) -> list[Path]:
    """`root` and every folder beneath it that holds a study (its STUDY_FILE), in path order; the trainer's run
    folders, hidden folders and links are not entered, and the search is bounded in depth and count."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder" if root.exists() else f"no such folder: {root}")
    found = []
    for searched, (here, folders, files) in enumerate(os.walk(root, onerror=_unreadable)):
        if searched >= MAX_SEARCHED:
            raise InputError(f"{root} holds more than {MAX_SEARCHED:,} folders to look through; name a study folder")
        depth = len(Path(here).relative_to(root).parts)
        folders[:] = sorted(name for name in folders if name != TRIALS_FOLDER and not name.startswith(".")
                            and depth < MAX_DEPTH)
        if STUDY_FILE in files:
            found.append(Path(here))
            if len(found) > MAX_FOLDERS:
                raise InputError(f"{root} holds more than {MAX_FOLDERS} study folders; name one of them")
    if not found:
        raise InputError(f"{root} holds no effnet study folder (none with a {STUDY_FILE}, {MAX_DEPTH} levels down)")
    return found


def _unreadable(error: OSError) -> None:
    raise InputError(f"cannot read {error.filename}: {error.strerror}")


def write_reports(root: str | Path, output: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """Every study under `root` written again (`write_report`), into the same place beneath `output` (default: in
    place); a study with no results yet (still running) or of a kind without a report is left, with the reason.
    Returns what was written and what was left; refuses a tree in which nothing can be written."""
    root = Path(root)
    written: list[Path] = []
    left = []
    for folder in study_folders(root):
        kind = study_kind(folder)
        relative = folder.relative_to(root)
        if kind not in RESULT_FILES:
            left.append(f"{folder}: effnet report does not know a {kind} study")
        elif not (folder / RESULT_FILES[kind]).exists():
            left.append(f"{folder}: no {RESULT_FILES[kind]} yet (the study has not written one)")
        else:
            written += write_report(folder, None if output is None else Path(output) / relative)
    if not written:
        raise InputError(f"nothing to report from under {root}: " + "; ".join(left))
    return written, left


__all__ = ["MAX_DEPTH", "MAX_FOLDERS", "MAX_SEARCHED", "RESULT_FILES", "study_folders", "study_kind", "write_report",
           "write_reports"]
