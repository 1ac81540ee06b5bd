"""The layout tells where each concept lives (README "Layout"): every module sits in a folder named for its concept
but the few that all folders share, each package says in its docstring what lives in it, and the README's layout
names every folder."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "effnet"
# The public API, `python -m effnet`, the CLI's entry point, and the two helpers every folder uses.
TOP_LEVEL = {"__init__", "__main__", "cli", "errors", "outputs"}
# Folders that only group modules: their __init__ is a docstring alone, so importing one module of a group loads no
# other (`architecture.spec` is imported nearly everywhere; `hub.source` and `deploy.bench` import each other's group).
GROUPS = ("architecture", "model", "hub", "deploy")


def packages() -> list[Path]:
    return sorted(path.parent for path in PACKAGE.rglob("__init__.py"))


def test_only_the_api_the_cli_and_the_shared_helpers_sit_at_the_top_level() -> None:
    assert {path.stem for path in PACKAGE.glob("*.py")} == TOP_LEVEL


def test_every_folder_of_modules_is_a_package_that_says_what_lives_in_it() -> None:
    assert {path.parent for path in PACKAGE.rglob("*.py")} == set(packages())  # no folder without an __init__.py
    silent = [str(folder.relative_to(PACKAGE)) for folder in packages()
              if not ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))]
    assert silent == []


def test_the_groups_only_group() -> None:
    for name in GROUPS:
        body = ast.parse((PACKAGE / name / "__init__.py").read_text()).body
        assert len(body) == 1 and ast.get_docstring(ast.Module(body=body, type_ignores=[])), name


def test_the_readmes_layout_names_every_folder_and_every_top_level_module() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    names = {f"`{path.name}/`" for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    names |= {f"`{path.name}`" for path in PACKAGE.glob("*.py")}
    assert sorted(name for name in names if name not in layout) == []
