#!/usr/bin/env bash
# Fuzzes the IDX parser for a bounded time: fuzz/run.sh [SECONDS] (default 60).
# Needs a nightly toolchain and cargo-fuzz (libFuzzer needs nightly compiler flags):
#   rustup toolchain install nightly && cargo install cargo-fuzz
# The corpus starts from tests/data/malformed-idx plus one valid file. A crash is saved in
# fuzz/artifacts/idx/; add it to tests/data/malformed-idx with its expected error.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/.."
corpus=fuzz/corpus/idx
mkdir -p "$corpus"
cp tests/data/malformed-idx/* "$corpus"/
# A valid 2x2x2 IDX file of unsigned bytes: magic, three big-endian dimensions, 8 pixels.
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x02\x03\x04\x05\x06\x07' > "$corpus/valid.idx"
cargo +nightly fuzz run idx "$corpus" -- -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024
