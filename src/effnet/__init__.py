"""effnet: EfficientNet (Tan & Le, ICML 2019) as data -- specs, compound scaling, builders, weights."""

from .build import BLOCKS, EffNet, FeatureExtractor, build, register_block
from .errors import InputError, WeightsError
from .models import create_model, resolve_spec
from .scaling import ALPHA, BETA, GAMMA, compound, round_channels, round_repeats, round_resolution, scale
from .spec import NetSpec, SpecError, Stage
from .weights import LoadReport, from_pretrained, load_weights, safe_load, save_pretrained
from .zoo import UnknownModelError, get_spec, list_models

__version__ = "0.1.0"

__all__ = [
    "ALPHA",
    "BETA",
    "BLOCKS",
    "GAMMA",
    "EffNet",
    "FeatureExtractor",
    "InputError",
    "LoadReport",
    "NetSpec",
    "SpecError",
    "Stage",
    "UnknownModelError",
    "WeightsError",
    "build",
    "compound",
    "create_model",
    "from_pretrained",
    "get_spec",
    "list_models",
    "load_weights",
    "register_block",
    "resolve_spec",
    "round_channels",
    "round_repeats",
    "round_resolution",
    "safe_load",
    "save_pretrained",
    "scale",
]
