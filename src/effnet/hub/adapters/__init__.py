"""Checkpoint namings as adapters: the registry (`registry.py`, with detection in one place) and one file per
naming it knows. Importing this package registers every built-in naming.

Import order is registration order, which is the order `detect_naming` asks them and error messages list them:
effnet's own naming first (the identity), then the foreign ones."""

from . import effnet, timm, torchvision, efficientnet_pytorch  # isort: skip  (registration order, see above)
from .registry import (
    Mapper,
    NamingAdapter,
    Renamed,
    detect_naming,
    foreign_names,
    get_naming,
    list_namings,
    register_naming,
    to_effnet_names,
    unregister_naming,
)

__all__ = ["Mapper", "NamingAdapter", "Renamed", "detect_naming", "efficientnet_pytorch", "effnet",
           "foreign_names", "get_naming", "list_namings", "register_naming", "timm", "to_effnet_names", "torchvision",
           "unregister_naming"]
