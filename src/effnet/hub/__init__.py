"""Every way into a model and back out to files: a source read once (`source.py`), the model keywords as typed
options (`model_options.py`), the one loader (`loader.py`), checkpoint files and `save_pretrained` folders
(`weights.py`), weights fitted onto a model (`weight_loading.py`, `weight_checks.py`) in any library's naming
(`adapters/`), the trainer's checkpoint format (`checkpoints.py`) and the registered pretrained weights
(`pretrained.py`)."""
