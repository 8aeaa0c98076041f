"""Classifies images with a pretext classifier exported by `pretext export`, the way `pretext
predict` does, outside pretext: with onnxruntime for `--format onnx`, with PyTorch and the
generated model.py for `--format torch`.

    python predict.py EXPORT_DIR IMAGE...      (NumPy and Pillow, and onnxruntime or PyTorch)

Images must have the model's size (model.json's input shape); colour ones are converted to
grey for a grey model, as pretext does.
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
        image = Image.open(path).convert("L" if c == 1 else "RGB")
        if image.size != (w, h):
            sys.exit(f"{path}: {image.size[0]}x{image.size[1]}, the model takes {w}x{h}")
        images.append(np.asarray(image, dtype=np.float32).reshape(h, w, c).transpose(2, 0, 1))
    mean = np.array(sidecar["pixels"]["mean"], dtype=np.float32).reshape(1, c, 1, 1)
    std = np.array(sidecar["pixels"]["std"], dtype=np.float32).reshape(1, c, 1, 1)
    return (np.stack(images) - mean) / std


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
