#!/usr/bin/env bash
# The Python that tests/export.rs checks pretext's exports with: NumPy and onnxruntime in a
# virtualenv at target/python-export (ignored by git), made from requirements.txt when it is
# missing. Prints that Python's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/python-export
if ! "$venv/bin/python" -c "import numpy, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt >&2
fi
echo "$PWD/$venv/bin/python"
