"""Times the Keras notebook and `pretext run --preset seed` alternately and prints medians.

Per round and side: whole-process wall time (start to exit, last file written), the pretext
and downstream training phases, and peak RSS. Keras times its phases around `fit` (the
downstream one also around the notebook's `predict`); pretext's come from the run folder's
timings.json (`pretext_s`: model set-up and training; `downstream_s`: computing the frozen
features and training the head). Then one full-MNIST pretext epoch (`--unlabeled all`,
240,000 rotated samples) for throughput and peak RSS, and SimCLR on MNIST training images in
Keras (`bench/keras_simclr.py`), PyTorch eager and under `torch.compile`
(`bench/torch_simclr.py`, when the virtualenv has PyTorch) and pretext, with the same model,
batch, loss, optimizer and augmentation ranges, with the default encoder and with a ResNet:
per round each side in turn, the medians of the second epoch's seconds (the first includes
Keras' tracing and PyTorch's compiling), images per second (two views each) and peak RSS.
"""

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def epoch_seconds(path):
    with open(path) as f:
        return sum(float(row["seconds"]) for row in csv.DictReader(f))


def keras(args):
    wall, rss, out = timed([HERE / ".venv/bin/python", HERE / "keras_notebook.py", args.data_dir])
    phases = json.loads(out.strip().splitlines()[-1])
    return {"whole": wall, "pretext": phases["pretext_s"], "downstream": phases["downstream_s"], "rss": rss}


def pretext(args, out_dir):
    wall, rss, _ = timed([args.pretext, "run", "--preset", "seed", "--data-dir", args.data_dir, "--out", out_dir, "--force", "--quiet"])
    steps = json.loads((Path(out_dir) / "timings.json").read_text())
    return {"whole": wall, "pretext": steps["pretext_s"], "downstream": steps["downstream_s"], "rss": rss}


def full_mnist(args, out_dir):
    wall, rss, _ = timed([args.pretext, "pretrain", "--preset", "seed", "--unlabeled", "all", "--pretext-epochs", "1", "--data-dir", args.data_dir, "--out", out_dir, "--force", "--quiet"])
    seconds = epoch_seconds(Path(out_dir) / "history_pretext.csv")
    return {"epoch_s": seconds, "samples_per_s": 240_000 / seconds, "rss": rss, "whole": wall}


def simclr_keras(args, images, resnet):
    encoder = ["--resnet", resnet] if resnet else []
    _, rss, out = timed([HERE / ".venv/bin/python", HERE / "keras_simclr.py", args.data_dir, "--epochs", "2", "--images", str(images), *encoder])
    seconds = json.loads(out.strip().splitlines()[-1])["epoch_s"][-1]
    return {"epoch_s": seconds, "images_per_s": images // 256 * 256 / seconds, "rss": rss}


def simclr_torch(args, images, resnet, compiled):
    encoder = ["--resnet", resnet] if resnet else []
    _, rss, out = timed([HERE / ".venv/bin/python", HERE / "torch_simclr.py", args.data_dir, "--epochs", "2", "--images", str(images), *encoder,
                         *(["--compile"] if compiled else [])])
    seconds = json.loads(out.strip().splitlines()[-1])["epoch_s"][-1]
    return {"epoch_s": seconds, "images_per_s": images // 256 * 256 / seconds, "rss": rss}


def has_torch():
    return subprocess.run([HERE / ".venv/bin/python", "-c", "import torch, torchvision"], capture_output=True).returncode == 0


def simclr_pretext(args, out_dir, images, resnet):
    width, *blocks = resnet.split(",") if resnet else [None]
    encoder = ["--encoder", "resnet", "--resnet-width", width, "--resnet-blocks", ",".join(blocks)] if resnet else []
    _, rss, _ = timed([args.pretext, "pretrain", "--method", "simclr", "--unlabeled", str(images), "--pretext-epochs", "2", "--monitor-every", "0", *encoder,
                       "--data-dir", args.data_dir, "--out", out_dir, "--force", "--quiet"])
    with open(Path(out_dir) / "history_pretext.csv") as f:
        seconds = float(list(csv.DictReader(f))[-1]["seconds"])
    return {"epoch_s": seconds, "images_per_s": images / seconds, "rss": rss}


def machine():
    """The CPU as /proc/cpuinfo names it (model name, family and model numbers, which tell
    generations apart where the name is only "AMD EPYC"), its widest SIMD level and its cores."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return f"{platform.machine()}, {os.cpu_count()} CPUs"
    flags = info.get("flags", "").split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{info.get('model name', platform.machine())} (family {info.get('cpu family')}, model {info.get('model')}), {simd}, {os.cpu_count()} CPUs"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX .gz files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pretext", required=True, help="the pretext binary")
    parser.add_argument("--simclr-images", type=int, default=60_000, help="training images of the SimCLR rows (0 = skip them)")
    parser.add_argument("--resnet", default="16,1,1", help="WIDTH,BLOCKS... of the SimCLR ResNet rows")
    parser.add_argument("--resnet-images", type=int, default=10_000, help="training images of the SimCLR ResNet rows (0 = skip them)")
    args = parser.parse_args()
    runs = {"keras": [], "pretext": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):
            runs["keras"].append(keras(args))
            runs["pretext"].append(pretext(args, f"{tmp}/run"))
            print(f"round {round_}: keras {runs['keras'][-1]}, pretext {runs['pretext'][-1]}", flush=True)
        full = full_mnist(args, f"{tmp}/full")
        sides = {"Keras": lambda images, resnet: simclr_keras(args, images, resnet)}
        if has_torch():
            sides["PyTorch"] = lambda images, resnet: simclr_torch(args, images, resnet, compiled=False)
            sides["PyTorch compiled"] = lambda images, resnet: simclr_torch(args, images, resnet, compiled=True)
        sides["pretext"] = lambda images, resnet: simclr_pretext(args, f"{tmp}/simclr", images, resnet)
        simclr = {}
        for name, images, resnet in [("default encoder", args.simclr_images, None), (f"ResNet {args.resnet}", args.resnet_images, args.resnet)]:
            if images:
                rounds = {side: [] for side in sides}
                for round_ in range(1, args.rounds + 1):
                    for side, run in sides.items():
                        rounds[side].append(run(images, resnet))
                    print(f"SimCLR {name} round {round_}: " + ", ".join(f"{side} {r[-1]['epoch_s']:.1f} s" for side, r in rounds.items()), flush=True)
                simclr[f"{name}, {images:,} MNIST images"] = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in rounds.items()}

    median = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in runs.items()}
    version = subprocess.run([args.pretext, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    print(f"\nmachine: {machine()}; medians of {args.rounds} rounds\n{version}")
    print(f"{'':<28}{'Keras (s)':>12}{'pretext (s)':>14}{'speed-up':>10}")
    for key, label in [("pretext", "pretext training phase"), ("downstream", "downstream phase"), ("whole", "whole process (wall)")]:
        k, p = median["keras"][key], median["pretext"][key]
        print(f"{label:<28}{k:>12.2f}{p:>14.2f}{k / p:>9.2f}x")
    print(f"{'peak RSS (MiB)':<28}{median['keras']['rss']:>12.0f}{median['pretext']['rss']:>14.0f}")
    print(f"\nfull MNIST, one pretext epoch (240,000 rotated samples): {full['epoch_s']:.1f} s, "
          f"{full['samples_per_s']:.0f} samples/s, peak RSS {full['rss']:.0f} MiB")
    for workload, sides in simclr.items():
        print(f"\nSimCLR, {workload}, second epoch (medians of {args.rounds} rounds):")
        for side, r in sides.items():
            print(f"{side:<18}{r['epoch_s']:>8.1f} s{r['images_per_s']:>10.0f} images/s (two views each){r['rss']:>8.0f} MiB peak RSS")
        ours = sides["pretext"]["epoch_s"]
        print("pretext's speed-up: " + ", ".join(f"{sides[side]['epoch_s'] / ours:.2f}x {side}" for side in sides if side != "pretext"))


if __name__ == "__main__":
    main()
