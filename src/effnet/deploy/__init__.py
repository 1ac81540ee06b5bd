"""A trained model at work: classifying images (`prediction.py`), the CPU inference path with BatchNorm folded
(`inference.py`), export to ONNX / TorchScript / torch.export (`export.py`), int8 quantization (`quantize.py`) and
latency as paper Table 4 measures it (`bench.py`)."""
