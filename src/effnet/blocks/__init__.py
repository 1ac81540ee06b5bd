"""Stage operators beyond MBConv, one module per block family. Importing this package registers each
operator's builder (`effnet.build.register_block`) and its analytic cost (`effnet.profiling.register_counter`)."""

from . import mobilenet, resnet, shufflenet, squeezenet, xception

__all__ = ["mobilenet", "resnet", "shufflenet", "squeezenet", "xception"]
