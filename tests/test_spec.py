"""Eq. 1 as data: the B0 table equals paper Table 1 row by row, and stage strings round-trip exactly."""

from __future__ import annotations

import random

import pytest

import effnet
from effnet.architecture.profiling import analyze
from effnet.architecture.spec import NetSpec, SpecError, Stage


def test_b0_table_matches_paper_table1(paper):
    rows = analyze(effnet.get_spec("efficientnet-b0"), num_classes=0).rows
    expected = paper["table1_b0"]["rows"]
    assert len(rows) == len(expected) == 9
    for row, (_, operator, resolution, channels, layers) in zip(rows, expected):
        assert (row.in_size, row.channels, row.repeats) == (resolution, channels, layers)
        # "MBConv6, k3x3" / "Conv3x3" / "Conv1x1 & Pooling & FC": our operator name starts the same way
        assert operator.startswith(row.operator.split(", SE")[0])


def test_b0_stage_strings_are_the_readable_table():
    spec = effnet.get_spec("efficientnet-b0")
    assert spec.stages[1].encode() == "mbconv_r2_k3_s2_e6_c24_se0.25"
    assert spec.stages[0].encode() == "mbconv_r1_k3_s1_e1_c16_se0.25"


@pytest.mark.parametrize("text", [
    "mbconv_r2_k3_s2_e6_c24_se0.25", "mbconv_r1_k3_s1_e1_c16", "conv_r1_k1_s1_e1_c1280",
    "mbconv_r3_k5_s1_e4.5_c112_se0.125_g2_noskip_arelu6",
])
def test_stage_string_round_trip(text):
    stage = Stage.decode(text)
    assert stage.encode() == text
    assert Stage.decode(stage.encode()) == stage


def test_random_stages_round_trip():
    rng = random.Random(7)
    for _ in range(500):
        stage = Stage(op=rng.choice(["mbconv", "conv", "fire"]), repeats=rng.randint(1, 9),
                      kernel=rng.choice([1, 3, 5, 7]), stride=rng.choice([1, 2]), channels=rng.randint(1, 4096),
                      expand=rng.choice([1.0, 3.0, 4.0, 6.0, 2.5, 0.75]), se=rng.choice([0.0, 0.25, 0.0625]),
                      groups=rng.choice([1, 2, 3]), skip=rng.random() < 0.5,
                      act=rng.choice([None, "relu", "silu", "relu6"]))
        assert Stage.decode(stage.encode()) == stage


@pytest.mark.parametrize("text", ["mbconv_r2_k3", "mbconv_r2_k3_s2_e6_c24_x9", "mbconv_r2.5_k3_s2_e6_c24",
                                  "MBConv_r1_k3_s1_e1_c16", "mbconv_r0_k3_s1_e1_c16"])
def test_bad_stage_strings_are_rejected(text):
    with pytest.raises(SpecError):
        Stage.decode(text)


def test_netspec_json_round_trip_for_every_preset():
    for name in effnet.list_models("efficientnet"):
        spec = effnet.get_spec(name)
        assert NetSpec.from_json(spec.to_json()) == spec


def test_specs_are_immutable():
    spec = effnet.get_spec("efficientnet-b0")
    with pytest.raises(AttributeError):
        spec.resolution = 300  # type: ignore[misc]


@pytest.mark.parametrize("change", [{"bn_eps": -1.0}, {"act": "swishy"}, {"padding": "valid"},
                                    {"resolution": 0}, {"stages": ()}])
def test_invalid_spec_fields(change):
    with pytest.raises(SpecError):
        effnet.get_spec("efficientnet-b0").replace(**change)


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(effnet.UnknownModelError, match="efficientnet-b1"):
        effnet.get_spec("efficientnet-b11")


def test_names_accept_underscores_and_case():
    assert effnet.get_spec("EfficientNet_B3") == effnet.get_spec("efficientnet-b3")
