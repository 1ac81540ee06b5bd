"""The package's structure, read from its source with `ast`: no import cycles, and no function-local imports of
effnet's own modules (those exist only to dodge cycles; optional third-party dependencies may be imported late)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "effnet"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The effnet modules an import statement loads (a package import loads its __init__ too)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    targets = []
    for name in names:
        parts = name.split(".")
        for end in range(2, len(parts) + 1):  # every package on the way, from outside it (not effnet/__init__)
            candidate = ".".join(parts[:end])
            inside = module == candidate or module.startswith(candidate + ".")
            if candidate in MODULES and (end == len(parts) or not inside):
                targets.append(candidate)
    return targets


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, node, path.name == "__init__.py"):
                    if target != name:
                        graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read_and_a_cycle_would_be_found() -> None:
    graph = import_graph()
    assert "effnet.model.build" in graph["effnet.hub.loader"]
    assert "effnet.architecture.operators" in graph["effnet.model.build"]
    assert "effnet.train" in graph["effnet.train.loop"] or "effnet.train.config" in graph["effnet.train.loop"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_in_effnet() -> None:
    assert cycles(import_graph()) == []


def test_no_function_local_imports_of_effnet_modules() -> None:
    late = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("effnet")):
                    late.append(f"{name}:{inner.lineno}")
                if isinstance(inner, ast.Import) and any(a.name.startswith("effnet") for a in inner.names):
                    late.append(f"{name}:{inner.lineno}")
    assert late == []


def test_commands_never_import_each_other() -> None:
    from effnet.cli import COMMANDS

    commands = {f"effnet.commands.{name}" for name in COMMANDS}
    graph = import_graph()
    crossing = {name: sorted(graph[name] & commands) for name in commands if graph[name] & commands}
    assert crossing == {}
    assert "effnet.commands.training" in graph["effnet.commands.train"]  # shared code lives in shared modules


PRIVATE_OPTUNA = ("._storage", "._trial_id", "._study_id", "_pop_waiting_trial_id", "._thread_local",
                  "optuna.storages._", "optuna.study._", "optuna.trial._")


def test_the_engine_uses_optunas_public_api_only() -> None:
    """Private Optuna attributes break on upgrades: the code uses ask/optimize/tell, enqueue_trial and the storages'
    own heartbeat (tests/test_engine.py runs against the oldest Optuna the pyproject allows, too)."""
    uses = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}" for path in PACKAGE.rglob("*.py")
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if any(name in line for name in PRIVATE_OPTUNA)]
    assert uses == []


def test_the_oldest_optuna_tested_is_the_pyprojects_lower_bound() -> None:
    root = PACKAGE.parents[1]
    pyproject = (root / "pyproject.toml").read_text()
    makefile = (root / "Makefile").read_text()
    lower = next(line.split(">=")[1].split('"')[0] for line in pyproject.splitlines() if '"optuna>=' in line)
    oldest = next(line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("OPTUNA_OLDEST"))
    assert oldest.startswith(lower) and oldest.count(".") == 2, (lower, oldest)
