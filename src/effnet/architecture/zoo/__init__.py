"""Named baseline specs: the registry (`zoo.registry`) and one module per family, each registering its names."""

from ...errors import UnknownModelError
from . import (
    efficientnet,
    efficientnet_small,
    mnasnet,
    mobilenet_v1,
    mobilenet_v2,
    resnet,
    shufflenet,
    squeezenet,
    xception,
)
from .registry import (
    SpecSource,
    get_spec,
    is_registered,
    list_models,
    normalize_name,
    read_model_file,
    read_spec_file,
    register,
    register_family,
    registered_spec,
    split_tag,
    stored_training,
    training_defaults,
    unknown_model,
)

__all__ = ["SpecSource", "UnknownModelError", "efficientnet", "efficientnet_small", "get_spec", "is_registered",
           "list_models", "mnasnet", "mobilenet_v1", "mobilenet_v2", "normalize_name", "read_model_file",
           "read_spec_file", "register", "register_family", "registered_spec", "resnet", "shufflenet", "split_tag",
           "squeezenet", "stored_training", "training_defaults", "unknown_model", "xception"]
