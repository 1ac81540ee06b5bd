"""`effnet scale BASE`: scale any baseline by --phi/--depth/--width/--resolution-mult, or solve for a MACs
budget with --target-macs (2x, 1.8G, ...) and --method; prints the scaled stage table and its profile."""

from __future__ import annotations

import argparse

from ..architecture.budget import METHODS, fit_budget
from ..architecture.profiling import analyze
from ..architecture.spec import SpecError
from ..hub.model_options import ModelOptions, given, resolve_model
from . import SUMMARIES
from .options import add_scaling_options, print_json, scaling_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scale", help=SUMMARIES["scale"])
    parser.add_argument("model", metavar="MODEL", help="registered name (e.g. efficientnet-b0, resnet50) or spec file")
    add_scaling_options(parser)
    parser.add_argument("--target-macs", dest="target_macs", help="MACs budget: 2x (of the baseline), 1.8G, 400M")
    parser.add_argument("--method", choices=METHODS, default="compound", help="how to reach --target-macs")
    parser.add_argument("--json", action="store_true",
                        help="print the scaled spec, its training defaults and its profile as JSON (a spec file)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = scaling_kwargs(args)
    fit = None
    if args.target_macs is not None:
        if any(options[key] is not None for key in ("phi", "depth", "width", "resolution", "image_size")):
            raise SpecError("--target-macs solves for the coefficient; do not also pass --phi/--depth/--width/...")
        base, training = resolve_model(args.model)
        fit = fit_budget(base, args.target_macs, args.method, **given({"repeat_rounding": args.repeat_rounding}))
        spec = fit.spec
        if fit.method == "compound":  # the coefficient found is phi: the model trains like any compound one
            training = ModelOptions(scaling={"phi": fit.coefficient}).training_defaults(training, base)
    else:
        spec, training = resolve_model(args.model, **options)
    result = analyze(spec)
    if args.json:
        data = {"spec": spec.to_dict(), "training": training.to_dict(), "profile": result.to_dict()}
        if fit is not None:
            data["fit"] = {"method": fit.method, "coefficient": fit.coefficient, "target_macs": fit.target,
                           "base_macs": fit.base_macs, "error": fit.error}
        print_json(data)
        return 0
    if fit is not None:
        label = "phi" if fit.method == "compound" else fit.method
        print(f"{fit.method} scaling to {fit.target / 1e9:.3f} GMACs ({fit.target / fit.base_macs:.2f}x the "
              f"baseline): {label} = {fit.coefficient:.4f}, {fit.macs / 1e9:.3f} GMACs ({fit.error:+.1%})")
    d, w, r = spec.coefficients
    print(f"{spec.name}  (depth x{d:g}, width x{w:g}, resolution x{r:g}; input {spec.resolution}px)")
    print(result.table())
    return 0
