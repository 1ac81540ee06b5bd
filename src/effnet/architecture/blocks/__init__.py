"""The built-in stage operators, one module per block family. Importing this package registers each operator's
module builder and its analytic cost formula in `effnet.architecture.operators`."""

from . import efficientnet, mobilenet, resnet, shufflenet, squeezenet, xception

__all__ = ["efficientnet", "mobilenet", "resnet", "shufflenet", "squeezenet", "xception"]
