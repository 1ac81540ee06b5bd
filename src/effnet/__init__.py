"""effnet: EfficientNet (Tan & Le, ICML 2019) as data -- specs, compound scaling, builders, weights."""

from .build import BLOCKS, EffNet, FeatureExtractor, build, register_block
from .errors import InputError, WeightsError
from .models import create_model, resolve_spec
from .scaling import ALPHA, BETA, GAMMA, compound, round_channels, round_repeats, round_resolution, scale
from .spec import NetSpec, SpecError, Stage
from .zoo import UnknownModelError, get_spec, list_models

__version__ = "0.1.0"

__all__ = [
    "ALPHA", "BETA", "BLOCKS", "GAMMA", "EffNet", "FeatureExtractor", "InputError", "NetSpec", "SpecError",
    "Stage", "UnknownModelError", "WeightsError", "build", "compound", "create_model", "get_spec", "list_models",
    "register_block", "resolve_spec", "round_channels", "round_repeats", "round_resolution", "scale",
]
