"""PyTorch reference for bench/gpu.sh: pretext's pretext-task models and losses, one training
step (forward, backward, AdamW update) timed on the GPU in eager mode.

The models mirror pretext's defaults (`pretext config --method M`):
- the notebook ConvNet (conv 3x3 64 + ReLU + max pool 2, conv 3x3 32 + ReLU + max pool 2,
  flattened) on 28x28 grey images, and the ResNet-18 for small images (3x3 stem, no max pool,
  basic blocks 64-128-256-512, global average pooling) on 32x32 colour images;
- rotation: a third 3x3 stride-2 convolution (16) + ReLU and a dense layer to the 4 rotations;
- SimCLR (NT-Xent, temperature 0.2), BYOL (EMA target, base momentum 0.99), VICReg (25, 25, 1)
  and Barlow Twins (lambda 0.0051), each with pretext's projector (Linear, BatchNorm1d, ReLU,
  Linear: 512 hidden; 128 out for SimCLR and BYOL, 512 for VICReg and Barlow Twins) and BYOL's
  predictor (128 -> 512 -> 128).

A sample is what pretext's batch size counts: one rotated image for rotation, one image (two
views) for the two-view methods. Inputs are random tensors made on the GPU once, so this times
the network step alone; pretext's figures in bench/gpu.sh include its whole input pipeline.

    python3 bench/gpu_reference.py simclr:resnet:512 rotation:notebook:2048 ... [--steps 30]

Prints one JSON line per case: {"method", "encoder", "batch", "samples_per_s"}.
"""

import argparse
import copy
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def notebook_encoder():
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    )


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(y)) + identity)


def resnet18(width=64, blocks=(2, 2, 2, 2)):
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c_in = width
    for stage, count in enumerate(blocks):
        c_out = width << stage
        for b in range(count):
            layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and b == 0 else 1))
            c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1))


def mlp(d_in, hidden, d_out):
    return nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, d_out))


def nt_xent(z1, z2, temperature=0.2):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(-1e9)
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(logits, positives)


def byol_regression(p, z):
    return 2 - 2 * (F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(1).mean()


def vicreg(z1, z2, weights=(25.0, 25.0, 1.0)):
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)

    def variance(z):
        return F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean()

    def covariance(z):
        z = z - z.mean(0)
        c = z.T @ z / (n - 1)
        return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / d

    return weights[0] * invariance + weights[1] * (variance(z1) + variance(z2)) + weights[2] * (covariance(z1) + covariance(z2))


def barlow_twins(z1, z2, lam=0.0051):
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / z1.std(0, unbiased=False).clamp_min(1e-5)
    z2 = (z2 - z2.mean(0)) / z2.std(0, unbiased=False).clamp_min(1e-5)
    c = z1.T @ z2 / n
    on = (c.diagonal() - 1).pow(2).sum()
    off = c.pow(2).sum() - c.diagonal().pow(2).sum()
    return on + lam * off


class TwoView(nn.Module):
    """Encoder and projector (online), for SimCLR, VICReg, Barlow Twins; BYOL adds the
    predictor and a target network that follows the online one by EMA."""

    def __init__(self, encoder, features, method):
        super().__init__()
        self.method = method
        out = 128 if method in ("simclr", "byol") else 512
        self.online = nn.Sequential(encoder, nn.Flatten(), mlp(features, 512, out))
        if method == "byol":
            self.predictor = mlp(out, 512, out)
            self.target = copy.deepcopy(self.online).requires_grad_(False)

    def loss(self, v1, v2):
        z1, z2 = self.online(v1), self.online(v2)
        if self.method == "simclr":
            return nt_xent(z1, z2)
        if self.method == "vicreg":
            return vicreg(z1, z2)
        if self.method == "barlow-twins":
            return barlow_twins(z1, z2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            t1, t2 = self.target(v1), self.target(v2)
        return byol_regression(p1, t2) + byol_regression(p2, t1)

    @torch.no_grad()
    def after_step(self, tau=0.99):
        if self.method == "byol":
            for t, o in zip(self.target.parameters(), self.online.parameters()):
                t.mul_(tau).add_(o, alpha=1 - tau)


class Rotation(nn.Module):
    """The notebook's rotation model (a third convolution, then a dense layer to the four
    rotations); on the ResNet, a dense layer on the pooled features."""

    def __init__(self, encoder, grey):
        super().__init__()
        self.encoder = encoder
        self.conv3 = nn.Sequential(nn.Conv2d(32, 16, 3, 2, 1), nn.ReLU()) if grey else nn.Identity()
        self.head = nn.Linear(16 * 2 * 2 if grey else 512, 4)

    def loss(self, x, targets):
        return F.cross_entropy(self.head(self.conv3(self.encoder(x)).flatten(1)), targets)

    def after_step(self):
        pass


def build(method, encoder_name, batch, device):
    """The model of `method` on `encoder_name`, and one batch of inputs for it on `device`."""
    grey = encoder_name == "notebook"
    encoder = notebook_encoder() if grey else resnet18()
    shape = (1, 28, 28) if grey else (3, 32, 32)
    images = lambda: torch.randn(batch, *shape, device=device)
    if method == "rotation":
        return Rotation(encoder, grey).to(device), (images(), torch.randint(0, 4, (batch,), device=device))
    features = 32 * 3 * 3 if grey else 512
    return TwoView(encoder, features, method).to(device), (images(), images())


def samples_per_s(method, encoder, batch, steps, warmup, device):
    """Training samples per second of `method` on `encoder` at `batch`, over `steps` timed
    steps after `warmup` untimed ones."""
    model, inputs = build(method, encoder, batch, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.002, weight_decay=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        model.loss(*inputs).backward()
        optimizer.step()
        model.after_step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="+", metavar="METHOD:ENCODER:BATCH", help="e.g. simclr:resnet:512")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    for case in args.cases:
        method, encoder, batch = case.split(":")
        rate = samples_per_s(method, encoder, int(batch), args.steps, args.warmup, device)
        print(json.dumps({"method": method, "encoder": encoder, "batch": int(batch), "samples_per_s": round(rate, 1)}), flush=True)
        if device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
