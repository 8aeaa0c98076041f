"""Checks `pretext export` against `pretext predict` on the same images.

    check_export.py PIXELS PREDICTIONS ONNX_DIR TORCH_DIR

PIXELS: the images' 0..255 bytes, [n, channels, height, width] row-major. PREDICTIONS: the
output of `pretext predict --logits` for the same images in the same order. ONNX_DIR and
TORCH_DIR: the two exports of the same classifier.

- ONNX: onnxruntime runs model.onnx on the pixels mapped as model.json says.
- torch: NumPy computes what model.py's `Network` computes (PyTorch's conventions: weights
  `[out, in, ...]`, padding as model.json lists it, eval-mode batch norm) from every tensor in
  model.safetensors, read by name. Where PyTorch is installed (not in the test virtualenv),
  model.py itself also runs, its `Network` loading model.safetensors with a strict
  `load_state_dict`.

Each must give pretext's class for every image (where pretext's top two logits are not within
1e-4 of each other) and logits within 1e-4. Prints one line per export; exits 1 naming the
first disagreement.
"""

import importlib.util
import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnxruntime

try:
    import torch
except ImportError:
    torch = None

TOLERANCE = 1e-4


def read_predictions(path):
    """The logits that `pretext predict --logits` printed, one row per image."""
    rows = [line.split(" logits ", 1)[1].split() for line in Path(path).read_text().splitlines() if " logits " in line]
    return np.array(rows, dtype=np.float32)


def model_input(pixels_path, sidecar, n):
    c, h, w = sidecar["input"]["shape"]
    pixels = np.fromfile(pixels_path, dtype=np.uint8).reshape(n, c, h, w).astype(np.float32)
    mean = np.array(sidecar["pixels"]["mean"], dtype=np.float32).reshape(1, c, 1, 1)
    std = np.array(sidecar["pixels"]["std"], dtype=np.float32).reshape(1, c, 1, 1)
    return (pixels - mean) / std


def read_safetensors(path):
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    dtypes = {"F32": np.float32, "I64": np.int64}
    return {
        name: np.frombuffer(body[info["data_offsets"][0] : info["data_offsets"][1]], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        for name, info in header.items()
        if name != "__metadata__"
    }


def conv2d(x, weight, bias, stride, pads):
    """PyTorch's Conv2d after zero padding pads = [top, left, bottom, right]."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    (sh, sw), (_, _, kh, kw) = stride, weight.shape
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    taps = np.stack([x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] for i in range(kh) for j in range(kw)], axis=2)
    y = np.einsum("nctyx,oct->noyx", taps, weight.reshape(weight.shape[0], weight.shape[1], kh * kw))
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)


class StateDict:
    """The exported tensors, each of which must be read once."""

    def __init__(self, tensors):
        self.tensors, self.unread = tensors, set(tensors)

    def __call__(self, name, optional=False):
        if optional and name not in self.tensors:
            return None
        self.unread.discard(name)
        return self.tensors[name]


def forward(layers, x, weights):
    for layer in layers:
        op, name = layer["op"], layer.get("name")
        if op == "conv":
            x = conv2d(x, weights(f"{name}.weight"), weights(f"{name}.bias", optional=True), layer["stride"], layer["pads"])
        elif op == "batch_norm":
            shape = (1, -1, 1, 1)
            weights(f"{name}.num_batches_tracked")
            scale = weights(f"{name}.weight") / np.sqrt(weights(f"{name}.running_var") + layer["epsilon"])
            x = (x - weights(f"{name}.running_mean").reshape(shape)) * scale.reshape(shape) + weights(f"{name}.bias").reshape(shape)
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "max_pool2x2":
            n, c, h, w = x.shape
            x = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        elif op == "residual":
            x = forward(layer["body"], x, weights) + forward(layer["shortcut"], x, weights)
        elif op == "global_average_pool":
            x = x.mean(axis=(2, 3))
        elif op == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif op == "standardize":
            x = (x - weights(f"{name}.mean")) * weights(f"{name}.scale")
        elif op == "dense":
            x = x @ weights(f"{name}.weight").T
            bias = weights(f"{name}.bias", optional=True)
            x = x if bias is None else x + bias
        else:
            sys.exit(f"model.json: unknown op {op}")
    return x


def compare(what, logits, expected):
    """Same class as pretext for every image, unless pretext's own top two logits are within the
    tolerance (a near-tie, where a last-bit difference may pick either); logits within it."""
    if logits.shape != expected.shape:
        sys.exit(f"{what}: logits of shape {logits.shape}, pretext predict printed {expected.shape}")
    rows = np.arange(len(logits))
    classes, expected_classes = logits.argmax(axis=1), expected.argmax(axis=1)
    agree = classes == expected_classes
    near_tie = ~agree & (expected[rows, classes] >= expected[rows, expected_classes] - TOLERANCE)
    worst = float(np.abs(logits - expected).max())
    ties = f" (+{near_tie.sum()} where pretext's top two logits are within {TOLERANCE})" if near_tie.any() else ""
    print(f"{what}: {agree.sum()}/{len(classes)} classes as pretext predict{ties}, largest logit difference {worst:.2e}")
    differ = np.flatnonzero(~agree & ~near_tie)
    if len(differ):
        sys.exit(f"{what}: image {differ[0]} is class {classes[differ[0]]}, pretext predict says {expected_classes[differ[0]]}")
    if worst > TOLERANCE:
        sys.exit(f"{what}: logits differ from pretext predict's by {worst:.2e} > {TOLERANCE}")


def main(pixels, predictions, onnx_dir, torch_dir):
    expected = read_predictions(predictions)
    onnx_sidecar = json.loads((Path(onnx_dir) / "model.json").read_text())
    session = onnxruntime.InferenceSession(str(Path(onnx_dir) / "model.onnx"), providers=["CPUExecutionProvider"])
    x = model_input(pixels, onnx_sidecar, len(expected))
    (logits,) = session.run([onnx_sidecar["output"]["name"]], {onnx_sidecar["input"]["name"]: x})
    compare("onnx (onnxruntime)", logits, expected)

    torch_sidecar = json.loads((Path(torch_dir) / "model.json").read_text())
    weights = StateDict(read_safetensors(Path(torch_dir) / "model.safetensors"))
    x = model_input(pixels, torch_sidecar, len(expected))
    logits = forward(torch_sidecar["layers"], x, weights)
    if weights.unread:
        sys.exit(f"model.safetensors: tensors no layer reads: {sorted(weights.unread)}")
    compare("torch (NumPy)", logits.astype(np.float32), expected)
    if torch is not None:
        compare(f"torch (model.py, PyTorch {torch.__version__})", run_model_py(torch_dir, x), expected)


def run_model_py(torch_dir, x):
    """model.py's `Network` with model.safetensors loaded strictly, in eval mode, on `x`."""
    spec = importlib.util.spec_from_file_location("exported_model", Path(torch_dir) / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Network()
    state = {name: torch.from_numpy(value.copy()) for name, value in read_safetensors(Path(torch_dir) / "model.safetensors").items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


if __name__ == "__main__":
    main(*sys.argv[1:])
