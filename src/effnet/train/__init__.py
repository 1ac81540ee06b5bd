"""Training with the paper's recipe (Section 5.2) and transfer learning (Section 5.3), on one process or DDP
(`distributed.py`), and accuracy on a dataset (`evaluate.py`: each epoch's, and `effnet eval`'s)."""

from .config import TrainConfig, TrainingDiverged, default_channels_last
from .datasets import SeededDataset
from .ema import ModelEma
from .loop import Trainer, train
from .optim import RMSpropTF, build_optimizer, build_scheduler, lr_factor, param_groups
from .recipe import PRESETS, Recipe, apply_overrides, load_recipe, parse_assignments

__all__ = ["PRESETS", "ModelEma", "RMSpropTF", "Recipe", "SeededDataset", "TrainConfig", "Trainer",
           "TrainingDiverged", "apply_overrides", "build_optimizer", "build_scheduler", "default_channels_last",
           "load_recipe", "lr_factor", "param_groups", "parse_assignments", "train"]
