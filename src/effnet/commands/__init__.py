"""One module per CLI subcommand, each with `add_parser(subparsers)`; `SUMMARIES` holds their one-line help, in
the order `effnet --help` lists them, so the listing needs none of the modules."""

SUMMARIES: dict[str, str] = {
    "models": "list model names, parameter counts and input sizes",
    "info": "show a model's stage table (paper Table 1 form)",
    "predict": "classify images with pretrained weights or a checkpoint",
    "demo": "B0-B7 vs paper Table 2, pretrained Lite0 on sample photos, and (--study) a smoke-scale scaling study "
            "on Fashion-MNIST",
    "train": "train a model (paper recipe, small-data recipe or your own)",
    "eval": "evaluate weights on a dataset: top-1/top-5 (model and EMA), per class",
    "finetune": "fine-tune pretrained weights on a new dataset (new classifier)",
    "profile": "params, MACs and activations per stage (paper Tables 2-3)",
    "scale": "scale a baseline (Eq. 2-3) or fit a MACs budget",
    "bench": "CPU latency at batch 1 (paper Table 4 method)",
    "export": "export to ONNX / TorchScript / torch.export and verify it",
    "cam": "overlay a Class Activation Map on an image (paper Figure 7)",
    "quantize": "int8-quantize an exported ONNX model and compare it with fp32",
    "experiment": "the paper's experiments on real data (scaling study, comparisons, convergence check)",
    "search": "searches: the Step-1 coefficient grid (and its family), a baseline architecture search",
    "dashboard": "a live view of a study in the browser (optuna-dashboard)",
    "report": "write a study's report and figures again from its results.json (or every study in a folder)",
}
