#!/usr/bin/env bash
# GPU benchmark, in one run of about 8 minutes on one NVIDIA GPU:
# 1. the GPU, the CPU and the versions;
# 2. training samples/s of every method on both encoders (the notebook ConvNet on MNIST, the
#    ResNet-18 on CIFAR-10-shaped images) at two batch sizes each: pretext on the GPU beside the
#    same models in eager PyTorch on the same GPU (bench/gpu_reference.py);
# 3. a short accuracy run (the seed preset, all 10,000 test images) on the GPU and on the CPU.
#
#   bench/gpu.sh [PRETEXT]     (default target/release/pretext)
#
# PRETEXT is a pretext binary built with the GPU's backend: `cargo build --release --features
# vulkan` (any x86-64 machine; no GPU needed to build) or `--features cuda`. Settings from the
# environment:
#   DEVICE            the --device to train on (default vulkan)
#   PRETEXT_DATA_DIR  the folder holding mnist/ (default ../shared/data)
#   VULKAN_DEBS       a folder of Debian packages (libvulkan1) to unpack when the machine lacks
#                     the Vulkan loader (apt-get download libvulkan1, on a machine with Debian)
#   CASES             "method:encoder:batch ..." to run instead of the full table
#   IMAGES            images per epoch (default 20480 for the notebook ConvNet, 5120 for the
#                     ResNet); smaller ones make a quick check of this script on a CPU
# The NVIDIA driver's Vulkan manifest is looked up in the usual places; else set VK_DRIVER_FILES.
#
# A sample is what a batch counts: one rotated image for rotation, one image (two augmented
# views) for the two-view methods. pretext's samples/s is the second of two epochs (the first
# compiles the GPU kernels) and includes its whole input pipeline (host-side batching and
# augmentation, copies to the GPU); PyTorch's times 30 steps on inputs already on the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-target/release/pretext}")"
device="${DEVICE:-vulkan}"
data="${PRETEXT_DATA_DIR:-$(cd .. && pwd)/shared/data}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "${VULKAN_DEBS:-}" ] && ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for deb in "$VULKAN_DEBS"/*.deb; do dpkg -x "$deb" "$work/vulkan"; done
    export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
        if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
    done
fi

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /CPU: /'
echo "CPU cores: $(nproc)"
"$bin" --version
python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())' 2>/dev/null ||
    echo "PyTorch: not installed, so its column stays empty"
echo "device: $device"

# CIFAR-10's binary format (label byte, then 3 planes of 32x32) with random pixels: the ResNet's
# speed does not depend on what the images show.
python3 - "$work/cifar10" <<'EOF'
import os, sys
out = sys.argv[1]
os.makedirs(out)
per_file = 2048
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(out, name), "wb") as f:
        for i in range(per_file):
            f.write(bytes([i % 10]) + os.urandom(3072))
EOF

# The images one epoch of each encoder goes through (2 epochs are run).
images_for() { if [ -n "${IMAGES:-}" ]; then echo "$IMAGES"; elif [ "$1" = notebook ]; then echo 20480; else echo 5120; fi; }
batches_for() { if [ "$1" = notebook ]; then echo "256 2048"; else echo "128 512"; fi; }
if [ -z "${CASES:-}" ]; then
    CASES=""
    for encoder in notebook resnet; do
        for method in rotation simclr byol vicreg barlow-twins; do
            for batch in $(batches_for $encoder); do CASES="$CASES $method:$encoder:$batch"; done
        done
    done
fi

# Samples/s of the second epoch of `pretext pretrain` on the case.
pretext_rate() {
    local method=$1 encoder=$2 batch=$3 images dataset
    images=$(images_for "$encoder")
    if [ "$encoder" = notebook ]; then dataset=(--dataset mnist --data-dir "$data"); else dataset=(--dataset cifar10 --data-dir "$work"); fi
    "$bin" pretrain --device "$device" --method "$method" --encoder "$encoder" --pretext-batch-size "$batch" \
        --pretext-epochs 2 --unlabeled "$images" --monitor-every 0 "${dataset[@]}" --out "$work/run" --force --quiet >"$work/log" 2>&1 ||
        { echo "pretext failed on $method:$encoder:$batch:" >&2; tail -3 "$work/log" >&2; echo "failed"; return; }
    local per_image=1
    if [ "$method" = rotation ]; then per_image=4; fi
    python3 -c 'import csv, sys; rows = list(csv.DictReader(open(sys.argv[1]))); print(round(int(sys.argv[2]) * int(sys.argv[3]) / float(rows[-1]["seconds"]), 1))' \
        "$work/run/history_pretext.csv" "$images" "$per_image"
}

echo
echo "== training samples/s"
python3 bench/gpu_reference.py $CASES >"$work/reference.jsonl" 2>"$work/reference.err" ||
    { echo "the PyTorch reference failed:"; tail -2 "$work/reference.err"; }
echo "| method | encoder | batch | pretext ($device) | PyTorch eager (CUDA) | pretext / PyTorch |"
echo "| --- | --- | --- | --- | --- | --- |"
for case in $CASES; do
    IFS=: read -r method encoder batch <<<"$case"
    ours=$(pretext_rate "$method" "$encoder" "$batch")
    theirs=$(python3 -c 'import json, sys; print(next((r["samples_per_s"] for r in map(json.loads, open(sys.argv[1])) if "%s:%s:%s" % (r["method"], r["encoder"], r["batch"]) == sys.argv[2]), ""))' "$work/reference.jsonl" "$case")
    ratio=$(python3 -c 'import sys; a, b = sys.argv[1:]; print("" if "failed" in (a, b) or "" in (a, b) else "%.2f" % (float(a) / float(b)))' "$ours" "$theirs")
    echo "| $method | $encoder | $batch | $ours | $theirs | $ratio |"
done

echo
echo "== accuracy: the seed preset, 10,000 test images, on $device and on the CPU"
for on in $(printf '%s\n' "$device" cpu | uniq); do
    start=$(date +%s)
    "$bin" run --preset seed --test-size all --baselines false --device "$on" --data-dir "$data" --out "$work/seed-$on" --quiet >"$work/log" 2>&1 ||
        { echo "$on: failed"; tail -3 "$work/log"; continue; }
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["test"]; print("%s: test accuracy %.4f, loss %.4f, %s s" % (sys.argv[2], t["accuracy"], t["loss"], sys.argv[3]))' \
        "$work/seed-$on/metrics.json" "$on" "$(( $(date +%s) - start ))"
done
