"""Every bad input gets one line on stderr and exit code 2 (the README's promise), table-driven: one row per bad
input, each through the real CLI. Also 16-bit images (scaled, never clipped) and `--json` that is always valid
JSON (never NaN)."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage import data as skdata

import effnet
from effnet.cli import main
from effnet.commands.options import print_json
from effnet.model.preprocessing import load_image
from test_data import make_fashion

TINY = {"width": 0.25, "depth": 0.1, "image_size": 16}
TINY_ARGS = ["--model", "efficientnet", "--width", "0.25", "--depth", "0.1", "--resolution", "16"]


def reject(constant: str) -> None:
    raise ValueError(f"not JSON: {constant}")


def strict_json(text: str):
    """json.loads that refuses NaN / Infinity (Python's json accepts them by default)."""
    return json.loads(text, parse_constant=reject)


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, argv: list[str], expect: str) -> str:
    """Run the CLI and check the rule: exit 2, exactly one stderr line `effnet: error: ...` matching `expect`,
    nothing on stdout, no traceback."""
    code, out, err = run_cli(capsys, argv)
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("effnet: error: "), err
    assert "Traceback" not in err and out == "", (out, err)
    assert re.search(expect, lines[0], re.IGNORECASE), lines[0]
    return lines[0]


class _Exploit:
    """Unpickling this would create MARKER."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_png16(path: Path, array: np.ndarray) -> Path:
    """A 16-bit PNG (grayscale HxW or RGB HxWx3 uint16), written by hand: PIL cannot write 16-bit RGB."""
    height, width = array.shape[:2]
    color = 2 if array.ndim == 3 else 0
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, color, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    paths = {"root": root, "data": make_fashion(root / "fashion", n_train=16, n_test=8)}
    image = root / "image.png"
    Image.fromarray((np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)).save(image)
    paths["image"] = image
    spec = effnet.scale("efficientnet", **TINY)
    paths["spec"] = root / "tiny.json"
    paths["spec"].write_text(spec.to_json())
    model = effnet.build(spec, num_classes=10)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    paths["saved"] = effnet.save_pretrained(model, root / "saved")
    # checkpoints that are not checkpoints
    torch.save(state, root / "good.pt")
    for name, content in (("empty", b""), ("text", b"hello, this is a text file\n"),
                          ("random", np.random.default_rng(1).bytes(4096)), ("png", image.read_bytes()),
                          ("truncated", (root / "good.pt").read_bytes()[:4000]),
                          ("raw-pickle", pickle.dumps(_Exploit(root / "pwned")))):
        paths[name] = root / f"{name}.pt"
        paths[name].write_bytes(content)
    paths["code-pickle"] = root / "code-pickle.pt"
    torch.save({"stem.conv.weight": torch.zeros(1), "payload": _Exploit(root / "pwned")}, paths["code-pickle"])
    # weights that are checkpoints, with values no model should run (1000 classes: the commands' default)
    key = "stem.conv.weight"
    full = {k: v.contiguous() for k, v in effnet.build(spec, num_classes=1000).state_dict().items()}
    for name, change in (("nan", lambda t: t.index_fill(0, torch.tensor([0]), math.nan)),
                         ("inf", lambda t: t.index_fill(0, torch.tensor([0]), -math.inf)),
                         ("int", lambda t: t.to(torch.int32))):
        paths[f"{name}-weights"] = root / f"{name}.safetensors"
        save_file({**full, key: change(full[key]).contiguous()}, str(paths[f"{name}-weights"]))
    nan_folder = effnet.save_pretrained(model, root / "nan-folder")
    save_file({**state, key: state[key].index_fill(0, torch.tensor([0]), math.nan)},
              str(nan_folder / "model.safetensors"))
    paths["nan-folder"] = nan_folder
    return paths


@pytest.fixture(autouse=True)
def _no_code_ran(files):
    yield
    assert not (files["root"] / "pwned").exists(), "a checkpoint ran code"


# ----- files that are not checkpoints at all, wherever a command takes weights -------------------------------------

CHECKPOINT_ROWS = [
    ("empty", r"is empty, not a checkpoint"),
    ("text", r"is not a checkpoint"),
    ("random", r"is not a checkpoint"),
    ("png", r"is not a checkpoint"),
    ("truncated", r"corrupt or truncated"),
    ("code-pickle", r"refusing to load .*could run code"),
    ("raw-pickle", r"refusing to load .*could run code"),
]
WEIGHTS_COMMANDS = {
    "predict": ["predict", "{image}", "--weights", "{bad}"],
    "eval": ["eval", "--weights", "{bad}", "--data", "fashion-mnist", "--data-dir", "{data}"],
    "export": ["export", "--weights", "{bad}", "--output", "{out}/model.onnx"],
    "finetune": ["finetune", "--weights", "{bad}", "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                 "{out}/run", "--no-progress"],
}


def fill(argv: list[str], **values: object) -> list[str]:
    return [arg.format(**{k: str(v) for k, v in values.items()}) for arg in argv]


@pytest.mark.parametrize("command", list(WEIGHTS_COMMANDS))
@pytest.mark.parametrize("kind, expect", CHECKPOINT_ROWS, ids=[row[0] for row in CHECKPOINT_ROWS])
def test_a_file_that_is_not_a_checkpoint(files, tmp_path, capsys, kind, expect, command) -> None:
    bad = files[kind]
    before = bad.read_bytes()
    argv = fill(WEIGHTS_COMMANDS[command], image=files["image"], bad=bad, data=files["data"], out=tmp_path)
    line = refused(capsys, argv, expect)
    assert bad.name in line  # names the file
    assert bad.read_bytes() == before and list(tmp_path.iterdir()) == []  # nothing written, nothing changed


# ----- save_pretrained folders whose config.json is malformed or hostile --------------------------------------------

def _config(files, **changes) -> dict:
    config = json.loads((files["saved"] / "config.json").read_text())
    spec = dict(config["spec"], **changes.pop("spec", {}))
    return {**config, "spec": spec, **changes}


def _stages(files, pattern: str, replacement: str) -> dict:
    """The config with every stage string edited by one substitution."""
    return _config(files, spec={"stages": [re.sub(pattern, replacement, stage)
                                           for stage in _config(files)["spec"]["stages"]]})


CONFIG_ROWS = {
    "invalid JSON": (lambda f: "{not json", r"corrupt .*config\.json"),
    "not an object": (lambda f: "[1, 2, 3]", r"corrupt .*config\.json.*JSON object"),
    "deeply nested": (lambda f: "[" * 100_000 + "]" * 100_000, r"corrupt .*config\.json"),
    "too large": (lambda f: " " * (2 << 20) + "{}", r"too large"),
    "unknown spec field": (lambda f: _config(f, spec={"bogus": 1}), r"unknown spec fields: bogus"),
    "NaN field": (lambda f: json.dumps(_config(f, spec={"dropout": math.nan})), r"dropout must be a finite number"),
    "absurd repeats": (lambda f: _stages(f, r"_r\d+_", "_r1000000_"),
                       r"repeats = 1000000 is beyond the supported maximum"),
    "absurd channels": (lambda f: _stages(f, r"_c\d+", "_c9999999999"),
                        r"channels = 9999999999 is beyond the supported maximum"),
    "absurd kernel": (lambda f: _stages(f, r"_k\d+_", "_k999_"),
                      r"kernel = 999 is beyond the supported maximum"),
    "absurd resolution": (lambda f: _config(f, spec={"resolution": 10**9}), r"resolution must be in \[8, \d+\]"),
    "absurd stage count": (lambda f: _config(f, spec={"stages": _config(f)["spec"]["stages"] * 100}),
                           r"stages is beyond"),
    "absurd num_classes": (lambda f: _config(f, num_classes=10**12), r"num_classes must be an integer in"),
    "num_classes beyond the weights": (lambda f: _config(f, num_classes=999_999),
                                       r"describes [\d,]+ parameters but model\.safetensors holds only"),
    "repeats beyond the weights": (lambda f: _stages(f, r"_r\d+_", "_r100_"),
                                   r"describes [\d,]+ parameters but model\.safetensors holds only"),
    "more parameters than any machine": (
        lambda f: _stages(f, r"_c\d+", "_c30000"),
        r"would have [\d,]+ parameters, beyond the supported maximum"),
    "resolution that would exhaust memory": (
        lambda f: _config(f, spec={"resolution": 8000},
                          preprocessing={**_config(f)["preprocessing"], "input_size": 8000}),
        r"at 8000 px needs about \d+ GiB of activations"),
}


@pytest.mark.parametrize("command", ["predict", "export"])
@pytest.mark.parametrize("case", list(CONFIG_ROWS))
def test_a_hostile_config_json_is_refused_at_once(files, tmp_path, capsys, case, command) -> None:
    import shutil

    folder = shutil.copytree(files["saved"], tmp_path / "model")
    content = CONFIG_ROWS[case][0](files)
    (folder / "config.json").write_text(content if isinstance(content, str) else json.dumps(content))
    argv = (["predict", str(files["image"]), "--weights", str(folder)] if command == "predict"
            else ["export", str(folder), "--output", str(tmp_path / "model.onnx")])
    started = time.perf_counter()
    refused(capsys, argv, CONFIG_ROWS[case][1])
    assert time.perf_counter() - started < 1.0, "a hostile file must be refused at once"
    assert not (tmp_path / "model.onnx").exists()


# ----- spec files for info / profile ----------------------------------------------------------------------------------

def _spec(files, **changes) -> str:
    return json.dumps({**json.loads(files["spec"].read_text()), **changes})


SPEC_ROWS = {
    "empty file": (lambda f: "", r"not a spec file \(not valid JSON"),
    "invalid JSON": (lambda f: "{\"name\": ", r"not a spec file \(not valid JSON"),
    "binary garbage": (lambda f: b"\xff\xfe\x00\x01garbage", r"not a spec file"),
    "not an object": (lambda f: "[1, 2]", r"a spec must be a JSON object"),
    "missing field": (lambda f: json.dumps({k: v for k, v in json.loads(f["spec"].read_text()).items()
                                            if k != "stem"}), r"spec lacks field 'stem'"),
    "unknown field": (lambda f: _spec(f, bogus=True), r"unknown spec fields: bogus"),
    "wrong type": (lambda f: _spec(f, resolution="big"), r"resolution must be a int"),
    "NaN": (lambda f: _spec(f, bn_eps=math.nan), r"bn_eps must be a finite number"),
    "bad stage string": (lambda f: _spec(f, stages=["mbconv_r1_k3_zz9"]), r"cannot parse token 'zz9'"),
    "absurd repeats": (lambda f: _spec(f, stages=["mbconv_r100000000_k3_s1_e6_c16"]), r"repeats = 100000000"),
    "absurd channels": (lambda f: _spec(f, stages=["mbconv_r1_k3_s1_e6_c100000000000"]), r"channels = 100000000000"),
    "absurd kernel": (lambda f: _spec(f, stages=["mbconv_r1_k1001_s1_e6_c16"]), r"kernel = 1001"),
    "absurd resolution": (lambda f: _spec(f, resolution=2**40), r"resolution must be in"),
    "absurd expansion": (lambda f: _spec(f, stages=["mbconv_r1_k3_s1_e100_c16"]), r"expand ratio must be in"),
    "absurd stage count": (lambda f: _spec(f, stages=["mbconv_r1_k3_s1_e6_c16"] * 10_000), r"10000 stages"),
    "too large": (lambda f: " " * (2 << 20), r"too large to be a spec file"),
}


@pytest.mark.parametrize("command", ["info", "profile"])
@pytest.mark.parametrize("case", list(SPEC_ROWS))
def test_a_bad_spec_file(files, tmp_path, capsys, case, command) -> None:
    path = tmp_path / "spec.json"
    content = SPEC_ROWS[case][0](files)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.perf_counter()
    refused(capsys, [command, str(path)], SPEC_ROWS[case][1])
    assert time.perf_counter() - started < 1.0


def test_a_spec_that_is_a_folder_or_missing(tmp_path, capsys) -> None:
    refused(capsys, ["info", str(tmp_path / "missing.json")], r"spec file not found")
    refused(capsys, ["profile", "efficientnet-b99"], r"unknown model 'efficientnet-b99'.*did you mean")


# ----- weights with values no model should run --------------------------------------------------------------------

WEIGHT_VALUE_ROWS = [("nan-weights", r"stem\.conv\.weight holds NaN or infinite values"),
                     ("inf-weights", r"stem\.conv\.weight holds NaN or infinite values"),
                     ("int-weights", r"stem\.conv\.weight holds int32 values where floating-point weights")]


@pytest.mark.parametrize("command", ["predict", "export", "eval"])
@pytest.mark.parametrize("kind, expect", WEIGHT_VALUE_ROWS, ids=[row[0] for row in WEIGHT_VALUE_ROWS])
def test_non_finite_or_integer_weights(files, tmp_path, capsys, kind, expect, command) -> None:
    model = ["--model", str(files["spec"]), "--weights", str(files[kind])]
    argv = {"predict": ["predict", str(files["image"]), *model],
            "export": ["export", *model, "--output", str(tmp_path / "m.onnx")],
            "eval": ["eval", *model, "--data", "fashion-mnist", "--data-dir", str(files["data"])]}[command]
    refused(capsys, argv, expect)


def test_non_finite_weights_in_a_saved_folder(files, capsys) -> None:
    refused(capsys, ["predict", str(files["image"]), "--weights", str(files["nan-folder"])], r"holds NaN")


# ----- scaling options that overflow or make no sense -----------------------------------------------------------

SCALING_ROWS = [
    (["--phi", "1e9"], r"phi = 1e\+09 overflows"),
    (["--phi", "-1e9"], r"phi = -1e\+09 gives multipliers \(0\.0, 0\.0, 0\.0\), outside"),
    (["--phi", "1e400"], r"phi must be finite"),
    (["--phi", "nan"], r"phi must be finite"),
    (["--phi", "60"], r"outside \[0\.0001, 10000\]"),
    (["--phi", "40"], r"repeats = 1470 is beyond the supported maximum"),
    (["--depth", "1e300"], r"depth coefficient 1e\+300 is outside"),
    (["--depth", "-2"], r"depth coefficient must be a positive number"),
    (["--width", "nan"], r"width coefficient must be a positive number, got nan"),
    (["--width", "inf"], r"width coefficient must be a positive number, got inf"),
    (["--resolution-mult", "1e-300"], r"resolution coefficient 1e-300 is outside"),
    (["--resolution", "100000"], r"resolution must be in \[8, \d+\]"),
    (["--resolution", "-5"], r"image_size must be an integer >= 8"),
    (["--phi", "1", "--depth", "2"], r"either phi or explicit"),
    (["--alpha", "2"], r"bases of phi.*need phi"),
    (["--phi", "2", "--alpha", "1e300"], r"overflows"),
    (["--phi", "1", "--alpha", "0"], r"alpha must be a positive finite number"),
    (["--phi", "abc"], r"argument --phi: invalid float value: 'abc'"),
]
SCALING_COMMANDS = {
    "info": ["info", "efficientnet-b0"],
    "profile": ["profile", "efficientnet-b0"],
    "scale": ["scale", "efficientnet-b0"],
    "train": ["train", "--model", "efficientnet", "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
              "{out}/run", "--no-progress", "--epochs", "1"],
}


@pytest.mark.parametrize("command", list(SCALING_COMMANDS))
@pytest.mark.parametrize("options, expect", SCALING_ROWS, ids=[" ".join(row[0]) for row in SCALING_ROWS])
def test_scaling_options(files, tmp_path, capsys, options, expect, command) -> None:
    refused(capsys, [*fill(SCALING_COMMANDS[command], data=files["data"], out=tmp_path), *options], expect)
    assert list(tmp_path.iterdir()) == []


# ----- recipes: --set values and recipe files ---------------------------------------------------------------------

def train_argv(files, out: Path, *extra: str) -> list[str]:
    return ["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", str(files["data"]), "--output",
            str(out / "run"), "--epochs", "1", "--batch-size", "4", "--limit-val", "4", "--no-progress",
            "--recipe", "small-data", *extra]


SET_ROWS = [
    ("grad_clip=-1", r"invalid grad_clip = -1"),  # a negative clip would turn training into gradient ascent
    ("lr=inf", r"lr must be a finite number, got inf"),
    ("lr=nan", r"lr must be a finite number, got nan"),
    ("lr=-0.1", r"invalid lr = -0\.1"),
    ("lr=1e400", r"lr must be a finite number"),
    ("momentum=1.5", r"invalid momentum = 1\.5"),
    ("warmup_epochs=50", r"invalid warmup_epochs = 50\.0 \(more than the 30 epochs\)"),
    ("label_smoothing=1", r"invalid label_smoothing = 1\.0"),
    ("batch_size=0", r"invalid batch_size = 0"),
    ("batch_size=abc", r"recipe field batch_size needs a int, got 'abc'"),
    ("epochs=2.5", r"recipe field epochs needs a int"),
    ("ema_decay=1", r"invalid ema_decay = 1\.0"),
    ("weight_decay=nan", r"weight_decay must be a finite number"),
    ("decay_rate=0", r"invalid decay_rate = 0\.0"),
    ("optimizer=adam2", r"optimizer must be one of"),
    ("schedule=linear", r"schedule must be one of"),
    ("random_erasing=2", r"random_erasing = 2\.0 is out of range"),
    ("policy=bogus", r"policy must be one of"),
    ("bogus=1", r"unknown recipe field\(s\) bogus; known:"),
    ("lr", r"expected KEY=VALUE, got 'lr'"),
]


@pytest.mark.parametrize("assignment, expect", SET_ROWS, ids=[row[0] for row in SET_ROWS])
def test_recipe_values_via_set(files, tmp_path, capsys, assignment, expect) -> None:
    refused(capsys, train_argv(files, tmp_path, "--set", assignment), expect)
    assert list(tmp_path.iterdir()) == []


RECIPE_FILE_ROWS = [
    ("malformed.yaml", "lr: [0.1, 0.2\n", r"cannot parse recipe file .*malformed\.yaml"),
    ("list.yaml", "- lr\n- 0.1\n", r"must hold a mapping"),
    ("empty.yaml", "", r"must hold a mapping"),
    ("object.yaml", "!!python/object:effnet.train.recipe.Recipe {lr: 0.1}\n",
     r"cannot parse recipe file .*could not determine a constructor"),
    ("apply.yaml", "lr: !!python/object/apply:os.system ['touch {root}/pwned']\n",
     r"cannot parse recipe file .*could not determine a constructor"),
    ("negative-clip.yaml", "grad_clip: -1\n", r"invalid grad_clip = -1"),
    ("unknown-base.yaml", "base: imagenet\n", r"unknown base 'imagenet'"),
    ("unknown-field.yaml", "lr: 0.1\nlearning_rate: 0.2\n", r"unknown recipe field\(s\) learning_rate"),
    ("binary.yaml", "\udcff\udcfe garbage", r"cannot parse recipe file"),
    ("bad.json", "{\"lr\": ", r"cannot parse recipe file .*bad\.json"),
]


@pytest.mark.parametrize("name, content, expect", RECIPE_FILE_ROWS, ids=[row[0] for row in RECIPE_FILE_ROWS])
def test_recipe_files(files, tmp_path, capsys, name, content, expect) -> None:
    path = tmp_path / name
    path.write_bytes(content.replace("{root}", str(files["root"])).encode("utf-8", "surrogateescape"))
    argv = train_argv(files, tmp_path)
    argv[argv.index("small-data")] = str(path)
    refused(capsys, argv, expect)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# ----- unknown names and impossible options -----------------------------------------------------------------------

OTHER_ROWS = {
    "unknown model (predict)": (["predict", "{image}", "--model", "efficientnet-b99", "--pretrained"],
                                r"unknown model 'efficientnet-b99'"),
    "unknown model (train)": (["train", "--model", "efficientnet-b99", "--data", "fashion-mnist", "--data-dir",
                               "{data}", "--output", "{out}/run"], r"unknown model"),
    "unknown data": (["train", *TINY_ARGS, "--data", "imagenet-22k", "--output", "{out}/run"],
                     r"dataset 'imagenet-22k' is neither a known name"),
    "data not found": (["train", *TINY_ARGS, "--data", "cifar10", "--data-dir", "{out}/nowhere", "--output",
                        "{out}/run"], r"cifar10 not found"),
    "unknown data (eval)": (["eval", "--weights", "{saved}", "--data", "nowhere"], r"neither a known name"),
    "unknown recipe": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                        "{out}/run", "--recipe", "imagenet"], r"unknown recipe 'imagenet'"),
    "unknown device": (["predict", "{image}", "--weights", "{saved}", "--device", "tpu"], r"unknown device 'tpu'"),
    "fp16 on the CPU": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                         "{out}/run", "--device", "cpu", "--amp", "fp16"], r"amp fp16 needs a CUDA device"),
    "top-k 0": (["predict", "{image}", "--weights", "{saved}", "--top-k", "0"], r"--top-k must be at least 1"),
    "top-k not a number": (["predict", "{image}", "--weights", "{saved}", "--top-k", "many"],
                           r"argument --top-k: invalid int value"),
    "pretrained and weights": (["predict", "{image}", "--pretrained", "--weights", "{saved}"],
                               r"argument --weights: not allowed with argument --pretrained"),
    "unknown option": (["predict", "{image}", "--weights", "{saved}", "--colour"], r"unrecognized arguments"),
    "unknown command": (["fly"], r"invalid choice: 'fly'"),
    "epochs 0": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output", "{out}/run",
                  "--epochs", "0"], r"epochs must be a positive integer"),
    "batch size 0": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                      "{out}/run", "--batch-size", "0"], r"batch-size must be a positive integer"),
    "accumulation 0": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                        "{out}/run", "--accum-steps", "0"], r"accum-steps must be an integer in \[1, 4096\]"),
    "too many classes in the data": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}",
                                      "--output", "{out}/run", "--num-classes", "3"], r"labels out of range"),
    "batch larger than the data": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}",
                                    "--output", "{out}/run", "--batch-size", "64", "--no-progress"],
                                   r"global batch 64 is larger than the training set"),
    "resume without a run": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                              "{out}/run", "--resume"], r"cannot resume: no checkpoint"),
    "finetune without weights": (["finetune", "--data", "fashion-mnist", "--data-dir", "{data}", "--output",
                                  "{out}/run"], r"finetune needs --pretrained or --weights"),
    "workers -1": (["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", "{data}", "--output", "{out}/run",
                    "--workers", "-1"], r"workers \(data-loader processes\) must be an integer in \[0, 64\]"),
    "eval without weights": (["eval", "--model", "efficientnet-b0", "--data", "fashion-mnist", "--data-dir",
                              "{data}"], r"eval needs weights"),
    "eval limit 0": (["eval", "--weights", "{saved}", "--data", "fashion-mnist", "--data-dir", "{data}",
                      "--limit-val", "0"], r"--limit-val must be >= 1"),
    "export format": (["export", "{saved}", "--format", "coreml", "--output", "{out}/m"],
                      r"unsupported export format 'coreml'"),
    "export resolution": (["export", "{saved}", "--resolution", "8", "--output", "{out}/m.onnx"],
                          r"export resolution must be >= 32"),
    "export weights into a folder model": (["export", "{saved}", "--weights", "{saved}", "--output", "{out}/m.onnx"],
                                           r"holds its own weights"),
    "quantize not ONNX": (["quantize", "{image}", "--output", "{out}/q.onnx"], r"cannot load"),
    "quantize calibration 0": (["quantize", "{image}", "--output", "{out}/q.onnx", "--num-calibration", "0"],
                               r"--num-calibration must be at least 1"),
    "cam several images": (["cam", "{image}", "{image}", "--model", "{saved}", "--output", "{out}/c.png"],
                           r"several images or models need --grid"),
    "cam class out of range": (["cam", "{image}", "--model", "{saved}", "--class", "10", "--output",
                                "{out}/c.png"], r"out of range"),
    "cam unreadable image": (["cam", "{spec}", "--model", "{saved}", "--output", "{out}/c.png"],
                             r"cannot read image"),
    "scale target and phi": (["scale", "efficientnet-b0", "--target-macs", "2x", "--phi", "1"],
                             r"--target-macs solves for the coefficient"),
    "scale target nonsense": (["scale", "efficientnet-b0", "--target-macs", "lots"], r"lots"),
    "bench zero runs": (["bench", "resnet18", "--runs", "0"], r"runs"),
}


@pytest.mark.parametrize("case", list(OTHER_ROWS))
def test_unknown_names_and_impossible_options(files, tmp_path, capsys, case) -> None:
    argv, expect = OTHER_ROWS[case]
    refused(capsys, fill(argv, image=files["image"], data=files["data"], saved=files["saved"], spec=files["spec"],
                         out=tmp_path), expect)
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []  # nothing written


def test_an_error_in_a_fresh_interpreter_has_no_traceback(files) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "effnet", "predict", str(files["image"]), "--weights",
                             str(files["raw-pickle"])], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()  # torch's pickle-protocol warning is not among them
    assert len(lines) == 1 and lines[0].startswith(
        f"effnet: error: refusing to load {files['raw-pickle']}: it holds Python objects that could run code"), lines


# ----- 16-bit images: scaled to 8 bits, never clipped ---------------------------------------------------------------

@pytest.fixture(scope="module")
def photos16(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("photos16")
    camera, chelsea = skdata.camera(), skdata.chelsea()
    noise = np.random.default_rng(0).integers(0, 257, chelsea.shape)  # real 16-bit data: the low byte varies
    paths = {"camera8": root / "camera8.png", "chelsea8": root / "chelsea8.png"}
    Image.fromarray(camera).save(paths["camera8"])
    Image.fromarray(chelsea).save(paths["chelsea8"])
    paths["camera16"] = root / "camera16.png"
    Image.fromarray(camera.astype(np.uint16) * 257).save(paths["camera16"])  # PIL writes 16-bit grayscale (I;16)
    paths["chelsea16"] = write_png16(root / "chelsea16.png",
                                     np.minimum(chelsea.astype(np.int64) * 257 + noise, 65535).astype(np.uint16))
    return paths


def test_16_bit_pngs_load_scaled_not_clipped(photos16) -> None:
    with Image.open(photos16["camera16"]) as raw:
        assert raw.mode.startswith("I;16") and np.asarray(raw).max() > 60000  # really a 16-bit file
    gray = np.asarray(load_image(photos16["camera16"]))
    camera = skdata.camera()
    assert gray.dtype == np.uint8 and gray.shape == (*camera.shape, 3)
    assert np.array_equal(gray[..., 0], camera)  # x 257 / 257: exact
    assert gray.max() == camera.max() and abs(gray.mean() - camera.mean()) < 0.01  # not clipped to white
    rgb = np.asarray(load_image(photos16["chelsea16"]))
    chelsea = skdata.chelsea()
    assert np.abs(rgb.astype(int) - chelsea).max() <= 1 and abs(rgb.mean() - chelsea.mean()) < 0.5
    assert abs(int(rgb.max()) - int(chelsea.max())) <= 1 and (rgb == 255).mean() < 0.01  # not clipped at 255


@pytest.mark.parametrize("photo", ["camera", "chelsea"])
def test_16_bit_pngs_predict_like_the_8_bit_original(photos16, capsys, photo) -> None:
    argv = ["predict", str(photos16[f"{photo}8"]), str(photos16[f"{photo}16"]), "--pretrained", "--top-k", "3",
            "--json"]
    code, out, err = run_cli(capsys, argv)
    assert code == 0, err
    eight, sixteen = strict_json(out)
    assert eight["top"][0]["index"] == sixteen["top"][0]["index"]
    assert abs(eight["top"][0]["prob"] - sixteen["top"][0]["prob"]) < 0.02
    if photo == "chelsea":
        assert eight["top"][0]["index"] in range(281, 286)  # a cat


def test_a_uint16_array_predicts_like_the_uint8_one() -> None:
    model = effnet.create_model("efficientnet-lite0", pretrained=True)
    chelsea = skdata.chelsea()
    eight, sixteen = effnet.predict(model, [chelsea, chelsea.astype(np.uint16) * 257], top_k=1)
    assert eight["top"][0]["index"] == sixteen["top"][0]["index"] and eight["top"][0]["index"] in range(281, 286)
    assert sixteen["top"][0]["prob"] == pytest.approx(eight["top"][0]["prob"], abs=1e-4)


# ----- --json is always valid JSON ----------------------------------------------------------------------------------

def test_print_json_never_writes_nan(capsys) -> None:
    print_json({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": math.nan}})
    assert strict_json(capsys.readouterr().out) == {"a": None, "b": [None, None, 1.5], "c": {"d": None}}


def test_info_json_of_a_spec_with_a_nan_extra_is_valid(files, tmp_path, capsys) -> None:
    path = tmp_path / "spec.json"
    path.write_text(_spec(files, extra=[["note", math.nan]]))  # json.dumps writes the NaN literal
    code, out, err = run_cli(capsys, ["info", str(path), "--json"])
    assert code == 0, err
    assert strict_json(out)["extra"] == [["note", None]]


def test_json_outputs_are_strict_json(files, capsys) -> None:
    for argv in (["info", "efficientnet-b0", "--json"], ["profile", str(files["spec"]), "--json"],
                 ["scale", "efficientnet-b0", "--phi", "-1.5", "--json"], ["models", "--json"],
                 ["predict", str(files["image"]), "--weights", str(files["saved"]), "--json"],
                 ["eval", "--weights", str(files["saved"]), "--data", "fashion-mnist", "--data-dir",
                  str(files["data"]), "--json"]):
        code, out, err = run_cli(capsys, argv)
        assert code == 0, (argv, err)
        strict_json(out)


def test_a_training_run_with_non_finite_metrics_prints_valid_json(files, tmp_path, capsys, monkeypatch) -> None:
    import effnet.train.loop as loop

    real = loop.evaluate

    def poisoned(*args, **kwargs):
        result = real(*args, **kwargs)
        return {**result, "top5": math.inf}  # a non-finite metric (one that does not mean divergence)

    monkeypatch.setattr(loop, "evaluate", poisoned)
    code, out, err = run_cli(capsys, train_argv(files, tmp_path, "--max-steps", "2", "--json"))
    assert code == 0, err
    summary = strict_json(out)
    assert summary["last"]["val_top5"] is None and math.isfinite(summary["last"]["val_top1"])
    rows = [strict_json(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["val_top5"] is None

    def diverged(*args, **kwargs):
        return {**real(*args, **kwargs), "loss": math.nan}  # a validation loss of NaN: the run diverged

    monkeypatch.setattr(loop, "evaluate", diverged)
    code, out, err = run_cli(capsys, train_argv(files, tmp_path / "again", "--max-steps", "2", "--json"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "the validation loss is nan" in err
