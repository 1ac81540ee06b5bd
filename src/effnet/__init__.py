"""effnet: EfficientNet (Tan & Le, ICML 2019) as data -- specs, compound scaling, builders, weights."""

from importlib.metadata import PackageNotFoundError, version

from .architecture.budget import BudgetFit, fit_budget
from .architecture.cost import Site, Tally
from .architecture.operators import BlockContext, list_operators, register_operator
from .architecture.profiling import Profile, profile
from .architecture.scaling import ALPHA, BETA, GAMMA, compound, round_channels, round_repeats, round_resolution
from .architecture.spec import NetSpec, Stage
from .architecture.zoo import get_spec, list_models
from .deploy.inference import optimize_for_inference
from .deploy.prediction import predict
from .errors import InputError, OutputError, SpecError, UnknownModelError, WeightsError
from .hub.adapters import list_namings, register_naming
from .hub.loader import create_model, from_pretrained, load_model, model_card
from .hub.model_options import resolve_spec, scale
from .hub.pretrained import get_weights, list_pretrained, register_weights
from .hub.source import resolve_source
from .hub.weight_loading import LoadReport, load_weights
from .hub.weights import safe_load, save_pretrained
from .model.build import EffNet, FeatureExtractor, build, zero_init_residuals
from .model.card import ModelCard
from .model.preprocessing import Preprocessing

try:
    __version__ = version("effnet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ALPHA",
    "BETA",
    "GAMMA",
    "BlockContext",
    "BudgetFit",
    "EffNet",
    "FeatureExtractor",
    "InputError",
    "LoadReport",
    "ModelCard",
    "NetSpec",
    "OutputError",
    "Preprocessing",
    "Profile",
    "Site",
    "SpecError",
    "Stage",
    "Tally",
    "UnknownModelError",
    "WeightsError",
    "build",
    "compound",
    "create_model",
    "fit_budget",
    "from_pretrained",
    "get_spec",
    "get_weights",
    "list_models",
    "list_namings",
    "list_operators",
    "list_pretrained",
    "load_model",
    "load_weights",
    "model_card",
    "optimize_for_inference",
    "predict",
    "profile",
    "register_naming",
    "register_operator",
    "register_weights",
    "resolve_source",
    "resolve_spec",
    "round_channels",
    "round_repeats",
    "round_resolution",
    "safe_load",
    "save_pretrained",
    "scale",
    "zero_init_residuals",
]
