#!/usr/bin/env bash
# The Python that tests/export.rs checks pretext's exports with: NumPy, onnxruntime and Pillow in a
# virtualenv at target/python-export (ignored by git), made from requirements.txt when it is
# missing. Prints that Python's path on stdout. The tests of tests/export.rs run on parallel
# threads, and two may ask at once: the first takes the lock and makes the virtualenv, the
# others wait for it and find it made.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/python-export
mkdir -p target
exec 9> target/python-export.lock
flock 9
if ! "$venv/bin/python" -c "import numpy, onnxruntime, PIL" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt >&2
fi
echo "$PWD/$venv/bin/python"
