"""The network as data (paper Eq. 1-3): the spec (`spec.py`), scaling and its rounding rules (`scaling.py`), the
operator registry (`operators.py`) with the built-in blocks (`blocks/`) and shared layers (`layers.py`), the named
baselines (`zoo/`) with each name's training defaults (`training_defaults.py`), and analytic cost -- params, MACs,
activations (`cost.py`, `profiling.py`) and the coefficient that fits a budget (`budget.py`). The assembled module
and its card are `effnet.model`'s."""
