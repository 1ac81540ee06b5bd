"""Issue 3: fit_budget solves for the coefficient of one scaling method that hits a MACs budget."""

from __future__ import annotations

import pytest

import effnet
from effnet.architecture.budget import METHODS, parse_budget


@pytest.mark.parametrize("method", METHODS)
def test_fit_doubles_mobilenet_v2(method: str) -> None:
    base = effnet.profile("mobilenet-v2").macs
    fit = effnet.fit_budget("mobilenet-v2", "2x", method)
    assert fit.target == pytest.approx(2 * base)
    assert fit.macs == effnet.profile(fit.spec).macs
    assert abs(fit.error) < 0.08  # rounding makes MACs a step function; this is the nearest step
    assert fit.coefficient > (0.0 if method == "compound" else 1.0)
    # the nearest step: a slightly larger or smaller coefficient is no closer to the target
    make = (lambda c: effnet.scale("mobilenet-v2", phi=c)) if method == "compound" else (
        lambda c: effnet.scale("mobilenet-v2", **{method: c}))
    for nudge in (0.97, 1.03):
        other = effnet.profile(make(fit.coefficient * nudge)).macs
        assert abs(other - fit.target) >= abs(fit.macs - fit.target) - 1


def test_compound_fit_at_table7_budget_is_near_phi_one_to_two() -> None:
    fit = effnet.fit_budget(effnet.get_spec("efficientnet-b0"), 1.8e9, "compound")
    assert 1.0 < fit.coefficient < 2.0
    assert fit.macs == pytest.approx(1.8e9, rel=0.05)
    d, w, _ = fit.spec.coefficients
    assert d == pytest.approx(1.2**fit.coefficient, rel=1e-3) and w == pytest.approx(1.1**fit.coefficient, rel=1e-3)


def test_fit_works_on_every_family() -> None:
    for name in ("resnet18", "shufflenet-v2-x0-5", "squeezenet1-1", "xception", "mnasnet-a1", "mobilenet-v1"):
        fit = effnet.fit_budget(name, "3x", "width")
        assert abs(fit.error) < 0.1, name


@pytest.mark.parametrize(("text", "expected"), [("2x", 2e9), ("1.8G", 1.8e9), ("400M", 4e8), ("1.5e9", 1.5e9),
                                                 (7e8, 7e8), ("0.5X", 5e8)])
def test_parse_budget(text: object, expected: float) -> None:
    assert parse_budget(text, 10**9) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "-2x", "0", "lots", "2y", float("nan")])
def test_bad_budget_text(text: object) -> None:
    with pytest.raises(effnet.SpecError):
        parse_budget(text, 10**9)


def test_budget_below_smallest_buildable_model() -> None:
    with pytest.raises(effnet.SpecError, match="below the smallest buildable"):
        effnet.fit_budget("resnet50", 1e6, "depth")
    with pytest.raises(effnet.SpecError, match="below the smallest buildable"):
        effnet.fit_budget("xception", 1e6, "resolution")


def test_unknown_method_and_model() -> None:
    with pytest.raises(effnet.SpecError, match="method"):
        effnet.fit_budget("resnet18", "2x", "magic")
    with pytest.raises(effnet.UnknownModelError):
        effnet.fit_budget("resnet-9000", "2x")
