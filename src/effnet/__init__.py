"""effnet: EfficientNet (Tan & Le, ICML 2019) as data -- specs, compound scaling, builders, weights."""

from .budget import BudgetFit, fit_budget
from .build import BLOCKS, EffNet, FeatureExtractor, build, register_block
from .errors import InputError, WeightsError
from .inference import optimize_for_inference
from .models import create_model, resolve_spec
from .prediction import predict
from .pretrained import list_pretrained
from .profiling import Profile, profile
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
    "BudgetFit",
    "EffNet",
    "FeatureExtractor",
    "InputError",
    "LoadReport",
    "NetSpec",
    "Profile",
    "SpecError",
    "Stage",
    "UnknownModelError",
    "WeightsError",
    "build",
    "compound",
    "create_model",
    "fit_budget",
    "from_pretrained",
    "get_spec",
    "list_models",
    "list_pretrained",
    "load_weights",
    "optimize_for_inference",
    "predict",
    "profile",
    "register_block",
    "resolve_spec",
    "round_channels",
    "round_repeats",
    "round_resolution",
    "safe_load",
    "save_pretrained",
    "scale",
]
