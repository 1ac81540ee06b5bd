"""A network made real: the `nn.Module` built from a spec (`build.py`) and the model card it carries (`card.py`),
with its preprocessing and image loading (`preprocessing.py`) and class names (`labels.py`). Where a model comes
from -- a name, a file, weights -- is `effnet.hub`'s."""
