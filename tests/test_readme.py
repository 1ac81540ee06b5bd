"""The README's Python examples run as written (they are the documentation of the public API)."""

from __future__ import annotations

import re
from pathlib import Path

import effnet

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, marker
    return found[0]


def test_the_custom_operator_example_runs() -> None:
    namespace: dict = {}
    exec(compile(_block("register_operator"), "README.md", "exec"), namespace)  # our own README, run as written
    model, spec = namespace["model"], namespace["spec"]
    assert type(model.stages[0][0][2]).__name__ == "GELU"
    assert effnet.profile(spec).params == sum(p.numel() for p in model.parameters())
    assert model.feature_info[0]["reduction"] == 2 and effnet.scale(spec, depth=2.0).stages[0].op == "convgelu"
