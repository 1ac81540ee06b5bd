"""Visual explanations: Class Activation Maps (Zhou et al. 2016, paper Figure 7) and Grad-CAM."""

from .cam import CamResult, cam_grid, class_activation_map, overlay, save_png

__all__ = ["CamResult", "cam_grid", "class_activation_map", "overlay", "save_png"]
