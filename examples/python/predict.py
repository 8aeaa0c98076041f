"""Classifies images with a pretext classifier exported by `pretext export`, the way `pretext
predict` does, outside pretext: with onnxruntime for `--format onnx`, with PyTorch and the
generated model.py for `--format torch`.

    python predict.py EXPORT_DIR IMAGE...      (NumPy and Pillow, and onnxruntime or PyTorch)

An image of another size is resized by model.json's rule (`input.resize`: the run's --resize,
crop or stretch), colour ones are converted to grey for a grey model, as pretext does. Pillow's
bilinear filter and JPEG decoder round a little differently from pretext's, so a resized or
JPEG image's probabilities can differ from `pretext predict`'s in the last digits.
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def model_input(paths, sidecar):
    """The images as model.json says: [batch, C, H, W] float32, (pixel - mean[c]) / std[c]."""
    c, h, w = sidecar["input"]["shape"]
    images = []
    for path in paths:
        image = resized(Image.open(path), w, h, sidecar["input"]["resize"]["mode"]).convert("L" if c == 1 else "RGB")
        images.append(np.asarray(image, dtype=np.float32).reshape(h, w, c).transpose(2, 0, 1))
    mean = np.array(sidecar["pixels"]["mean"], dtype=np.float32).reshape(1, c, 1, 1)
    std = np.array(sidecar["pixels"]["std"], dtype=np.float32).reshape(1, c, 1, 1)
    return (np.stack(images) - mean) / std


def resized(image, w, h, mode):
    """`image` at w x h by model.json's `input.resize` rule (pretext's `--resize`)."""
    if image.size == (w, h):
        return image
    if mode == "stretch":
        return image.resize((w, h), Image.BILINEAR)
    ratio = max(w / image.width, h / image.height)
    # Halves round up, as Rust's f64::round does for positive sides (Python's round() goes to even).
    scaled = image.resize((max(int(image.width * ratio + 0.5), 1), max(int(image.height * ratio + 0.5), 1)), Image.BILINEAR)
    left, top = (scaled.width - w) // 2, (scaled.height - h) // 2
    return scaled.crop((left, top, left + w, top + h))


def logits(export, sidecar, x):
    if sidecar["format"] == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
        return session.run(None, {sidecar["input"]["name"]: x})[0]
    import torch
    from safetensors.torch import load_file

    sys.path.insert(0, str(export))
    from model import Network

    model = Network()
    model.load_state_dict(load_file(export / "model.safetensors"))
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def main(export, *paths):
    export = Path(export)
    sidecar = json.loads((export / "model.json").read_text())
    scores = logits(export, sidecar, model_input(paths, sidecar))
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    for path, p in zip(paths, probabilities):
        print(f"{path}: {sidecar['classes'][p.argmax()]} (probability {p.max():.3f})")


if __name__ == "__main__":
    main(*sys.argv[1:])
