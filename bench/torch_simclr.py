"""SimCLR on MNIST in PyTorch (CPU): the reference a lightly or solo-learn user runs today,
timed by `bench/side_by_side.py` beside Keras and `pretext pretrain --method simclr`.

The same work per step as `bench/keras_simclr.py` and pretext's defaults: the notebook encoder
(Conv 64 3x3 stride 2 ReLU, MaxPool, Conv 32 3x3 ReLU, MaxPool, flatten), or with
`--resnet WIDTH,BLOCKS...` pretext's CIFAR-style ResNet; the projector Linear 512, batch norm,
ReLU, Linear 128; NT-Xent at temperature 0.2; AdamW (learning rate 0.002, weight decay 1e-4);
batches of 256 images, two views each, through the same augmentation families with pretext's
ranges (torchvision's RandomResizedCrop 0.5..1, RandomAffine with rotation and shear up to 10
degrees and translation up to 10%, ColorJitter brightness and contrast 0.4 with probability
0.8, GaussianBlur sigma 0.1..1 with probability 0.5, RandomErasing 2..15% with probability
0.25). As lightly and solo-learn do, each image's views are drawn by the DataLoader's worker
processes (`--workers`, default 2, one per core here) while the main process trains.

`--compile` runs the network and loss under `torch.compile` (Inductor's C++ code for the CPU).

Prints one JSON line: the seconds of each epoch (the first includes start-up and compiling)
and the images per second of the last.

    python bench/torch_simclr.py MNIST_DIR [--epochs 2] [--images 60000] [--resnet 16,1,1] [--compile]
"""

import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

import simclr_cli

BATCH = 256
TEMPERATURE = 0.2


def load_images(mnist_dir, count):
    with gzip.open(os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return torch.from_numpy(images[:count].copy())


def augmenter():
    return v2.Compose([
        v2.RandomResizedCrop(28, scale=(0.5, 1.0), antialias=True),
        v2.RandomAffine(degrees=10, translate=(0.1, 0.1), shear=10),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
        v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.5),
        v2.RandomErasing(p=0.25, scale=(0.02, 0.15), value=0.0),
    ])


class TwoViews(Dataset):
    def __init__(self, images):
        self.images = images
        self.augment = augmenter()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        return self.augment(image), self.augment(image)


class NotebookEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.dim = 32 * 3 * 3

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return x.flatten(1)


def conv_bn(c_in, c_out, kernel, stride):
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.first = conv_bn(c_in, c_out, 3, stride)
        self.second = conv_bn(c_out, c_out, 3, 1)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        return F.relu(self.second(F.relu(self.first(x))) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, width, blocks):
        super().__init__()
        layers, c_in = [conv_bn(1, width, 3, 1), nn.ReLU()], width
        for stage, count in enumerate(blocks):
            c_out = width << stage
            for b in range(count):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and b == 0 else 1))
                c_in = c_out
        self.body = nn.Sequential(*layers)
        self.dim = c_in

    def forward(self, x):
        return self.body(x).mean((2, 3))


class SimClr(nn.Module):
    def __init__(self, resnet):
        super().__init__()
        self.encoder = ResNet(resnet[0], resnet[1:]) if resnet else NotebookEncoder()
        self.projector = nn.Sequential(nn.Linear(self.encoder.dim, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 128))

    def forward(self, x):
        return self.projector(self.encoder(x))


def nt_xent(z1, z2):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / TEMPERATURE - 1e9 * torch.eye(2 * n)
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, positives)


def main():
    parser = simclr_cli.parser(__doc__)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader processes drawing the views")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network and loss")
    args = parser.parse_args()
    resnet = simclr_cli.resnet_shape(args)
    torch.manual_seed(0)
    loader = DataLoader(TwoViews(load_images(args.mnist_dir, args.images)), batch_size=BATCH, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0, prefetch_factor=2 if args.workers else None)
    model = SimClr(resnet)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.002, weight_decay=1e-4)

    def step(v1, v2):
        loss = nt_xent(model(v1), model(v2))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    if args.compile:
        step = torch.compile(step)
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for v1, v2 in loader:
            step(v1, v2)
        seconds.append(time.perf_counter() - start)
    used = args.images // BATCH * BATCH
    print(json.dumps({"epoch_s": seconds, "images_per_s": used / seconds[-1]}))


if __name__ == "__main__":
    main()
