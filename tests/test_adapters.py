"""Checkpoint namings as adapters: every registered naming round-trips an effnet model exactly, detection is decided in
one place (the registry), and a naming registered from outside is detected and loaded without touching effnet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import effnet
from conftest import randomize_batchnorm
from effnet.errors import WeightsError
from effnet.hub import adapters

SRC = Path(effnet.__file__).resolve().parent
BUILT_IN = ["effnet", "timm", "torchvision", "efficientnet_pytorch"]
UNKNOWN = {"a.weight": torch.zeros(1), "b.weight": torch.zeros(1), "c.weight": torch.zeros(1)}
UNRECOGNISED = ("unrecognised checkpoint layout (first keys: a.weight, b.weight, c.weight); expected effnet, timm, "
                "torchvision or efficientnet_pytorch naming")


def tiny(name: str = "efficientnet-b0", num_classes: int = 10, seed: int = 0) -> torch.nn.Module:
    """A small EfficientNet-family model: a quarter of the width and depth (stage 1 still has no expansion)."""
    torch.manual_seed(seed)
    model = effnet.build(effnet.scale(name, width=0.25, depth=0.25), num_classes)
    return randomize_batchnorm(model, seed).eval()


def renamed(model: torch.nn.Module, naming: str) -> dict[str, torch.Tensor]:
    names = adapters.foreign_names(model, naming)
    return {names[key]: value.clone() for key, value in model.state_dict().items()}


def test_the_built_in_namings_are_always_registered_in_detection_order() -> None:
    assert adapters.list_namings() == BUILT_IN
    assert [adapters.get_naming(name).name for name in BUILT_IN] == BUILT_IN


@pytest.mark.parametrize("spec", ["efficientnet-b0", "efficientnet-lite0"])  # with and without squeeze-excite
@pytest.mark.parametrize("naming", BUILT_IN)
def test_every_naming_round_trips_exactly(spec: str, naming: str) -> None:
    source = tiny(spec)
    names = adapters.foreign_names(source, naming)
    assert sorted(names) == sorted(source.state_dict())  # every effnet key is named ...
    assert len(set(names.values())) == len(names)  # ... and no two share a foreign key
    foreign = renamed(source, naming)
    assert adapters.detect_naming(foreign) == naming
    target = tiny(spec, seed=1)
    report = effnet.load_weights(target, foreign)
    assert (report.format, report.loaded, report.missing, report.unexpected) == (naming, len(names), [], [])
    ours, theirs = source.state_dict(), target.state_dict()
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


@pytest.mark.parametrize("naming", BUILT_IN)
def test_a_foreign_file_is_detected_too(tmp_path: Path, naming: str) -> None:
    source, path = tiny(), tmp_path / f"{naming}.safetensors"
    save_file(renamed(source, naming), str(path))
    target = tiny(seed=1)
    assert effnet.load_weights(target, path).format == naming
    assert torch.equal(source.state_dict()["head.conv.weight"], target.state_dict()["head.conv.weight"])


def test_the_foreign_namings_refuse_other_families_in_one_line() -> None:
    model = effnet.create_model("mobilenet-v1-0.25", num_classes=10)
    with pytest.raises(WeightsError, match=r"can only be mapped onto EfficientNet-style models; block stages\.0\.0"):
        adapters.foreign_names(model, "timm")
    assert adapters.foreign_names(model, "effnet") == {key: key for key in model.state_dict()}


def test_an_unknown_layout_is_one_error_from_one_place() -> None:
    with pytest.raises(WeightsError) as detected:
        adapters.detect_naming(UNKNOWN)
    with pytest.raises(WeightsError) as loading:
        effnet.load_weights(tiny(), UNKNOWN)
    assert str(detected.value) == str(loading.value) == UNRECOGNISED
    with pytest.raises(WeightsError, match=r"^unknown checkpoint format 'bogus'; known: effnet, timm, torchvision, "
                                           r"efficientnet_pytorch$"):
        effnet.load_weights(tiny(), renamed(tiny(), "timm"), fmt="bogus")


def test_each_naming_is_recognised_only_by_its_own_adapter() -> None:
    """Detection lives in the registry: a marker key of a naming appears in no effnet source but its adapter's."""
    sources = {str(path.relative_to(SRC)): path.read_text() for path in SRC.rglob("*.py")}
    for name in BUILT_IN:
        for marker in adapters.get_naming(name).markers:
            holders = sorted(path for path, text in sources.items() if f'"{marker}"' in text)
            assert holders == [f"hub/adapters/{name}.py"], (marker, holders)


def _toy_names(model: torch.nn.Module) -> dict[str, str]:
    """A made-up library that writes keys with slashes under a `net/` root."""
    return {key: "net/" + key.replace(".", "/") for key in model.state_dict()}


@pytest.fixture
def toy() -> Iterator[adapters.NamingAdapter]:
    adapter = adapters.register_naming("toy", names=_toy_names, markers=["net/stem/conv/weight"])
    try:
        yield adapter
    finally:
        adapters.unregister_naming("toy")


def test_a_registered_naming_is_detected_and_loaded(toy: adapters.NamingAdapter) -> None:
    source = tiny()
    foreign = renamed(source, "toy")
    assert "net/stages/0/0/dw/conv/weight" in foreign and adapters.detect_naming(foreign) == "toy"
    target = tiny(seed=1)
    report = effnet.load_weights(target, foreign)
    assert (report.format, report.loaded, report.missing, report.unexpected) == ("toy", len(foreign), [], [])
    assert all(torch.equal(value, target.state_dict()[key]) for key, value in source.state_dict().items())
    with pytest.raises(WeightsError, match="expected effnet, timm, torchvision, efficientnet_pytorch or toy naming"):
        effnet.load_weights(target, UNKNOWN)


def test_a_registered_naming_can_be_forced_and_is_gone_once_removed(toy: adapters.NamingAdapter) -> None:
    foreign = {key.replace("net/", "other/", 1): value for key, value in renamed(tiny(), "toy").items()}
    with pytest.raises(WeightsError, match="unrecognised checkpoint layout"):
        adapters.detect_naming(foreign)
    adapters.register_naming("toy", names=lambda model: {k: "other/" + k.replace(".", "/")
                                                         for k in model.state_dict()},
                             markers=["other/stem/conv/weight"], replace=True)
    assert effnet.load_weights(tiny(seed=1), foreign, fmt="toy").format == "toy"
    assert adapters.list_namings() == [*BUILT_IN, "toy"]  # replacing keeps its place in the detection order
    removed = adapters.unregister_naming("toy")
    assert removed.name == "toy" and adapters.list_namings() == BUILT_IN
    with pytest.raises(WeightsError, match=UNRECOGNISED.split(" (")[0]):
        effnet.load_weights(tiny(), foreign)
    adapters.register_naming("toy", names=_toy_names, markers=["net/stem/conv/weight"])  # for the fixture to remove


def test_the_registry_refuses_bad_registrations(toy: adapters.NamingAdapter) -> None:
    with pytest.raises(WeightsError, match="already registered; pass replace=True"):
        adapters.register_naming("toy", names=_toy_names, markers=["net/stem/conv/weight"])
    with pytest.raises(WeightsError, match="lowercase letters, digits and underscores"):
        adapters.register_naming("Toy Two", names=_toy_names, markers=["x"])
    with pytest.raises(WeightsError, match="needs a callable"):
        adapters.register_naming("toy_two", names="net/", markers=["x"])  # type: ignore[arg-type]
    with pytest.raises(WeightsError, match="needs marker keys or key prefixes"):
        adapters.register_naming("toy_two", names=_toy_names)
    with pytest.raises(WeightsError, match="must be a sequence of non-empty keys"):
        adapters.register_naming("toy_two", names=_toy_names, markers="net/stem/conv/weight")
    with pytest.raises(WeightsError, match="unknown checkpoint format 'toy_two'"):
        adapters.unregister_naming("toy_two")
    assert adapters.list_namings() == [*BUILT_IN, "toy"]
