#!/usr/bin/env bash
# Side-by-side benchmark: the Keras notebook (bench/keras_notebook.py) against
# `pretext run --preset seed`, alternately, on this machine and the same MNIST files; then a
# full-MNIST epoch, and SimCLR in Keras (bench/keras_simclr.py) and in pretext, with the
# default encoder and with a small ResNet.
#
#   bench/run.sh [ROUNDS]        (default 3; MNIST from $PRETEXT_DATA_DIR, else ../shared/data)
#
# The first run installs TensorFlow (CPU), PyTorch and torchvision from PyPI into bench/.venv
# (never into CI's environment).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${PRETEXT_DATA_DIR:-$(cd .. && pwd)/shared/data}"
# TensorFlow and PyTorch are never imported by one process (together they abort at import).
if ! { bench/.venv/bin/python -c "import tensorflow" && bench/.venv/bin/python -c "import torch, torchvision"; } 2> /dev/null; then
    [ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet "tensorflow-cpu==2.21.*" "torch==2.15.0" "torchvision==0.29.2"
fi
cargo build --release --quiet
exec bench/.venv/bin/python bench/side_by_side.py --data-dir "$data_dir/mnist" --rounds "${1:-3}" --pretext target/release/pretext
