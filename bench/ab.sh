#!/usr/bin/env bash
# A/B timing of two pretext binaries (e.g. two commits' target/release/pretext copied aside),
# alternating so that machine noise hits both alike: per run, the mean pretext-epoch seconds
# of the seed preset (first epoch excluded) and the process' user, system and wall seconds;
# then, per binary, the median and the minimum of those means.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS=3] [EPOCHS=6]   (MNIST from $PRETEXT_DATA_DIR)
set -euo pipefail
old="$1" new="$2" rounds="${3:-3}" epochs="${4:-6}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
    for binary in "$old" "$new"; do
        /usr/bin/time -f "%U %S %e" -o "$out/time" "$binary" pretrain --preset seed --pretext-epochs "$epochs" \
            --out "$out/run" --force --quiet > /dev/null
        epoch=$(awk -F, 'NR > 2 { sum += $NF; n++ } END { printf "%.3f", sum / n }' "$out/run/history_pretext.csv")
        read -r user sys wall < "$out/time"
        echo "$binary: epoch ${epoch}s, user ${user}s, sys ${sys}s, wall ${wall}s"
        echo "$epoch" >> "$out/epochs-$([ "$binary" = "$old" ] && echo old || echo new)"
    done
done
for side in old new; do
    binary=$([ "$side" = old ] && echo "$old" || echo "$new")
    sort -n "$out/epochs-$side" | awk -v b="$binary" '{ e[NR] = $1 } END { printf "%s: median epoch %.3fs, min %.3fs (%d runs)\n", b, (e[int((NR + 1) / 2)] + e[int(NR / 2) + 1]) / 2, e[1], NR }'
done
