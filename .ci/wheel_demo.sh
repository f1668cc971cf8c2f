#!/usr/bin/env bash
# Build the wheel, install it with --no-deps into a fresh virtual environment that borrows the
# dependencies of an existing one (a plain path entry: its .pth files, e.g. an editable
# thermogap, are not processed), and run `thermogap demo` from an empty directory.
#   usage: .ci/wheel_demo.sh PYTHON [PRESET]     (PYTHON: interpreter of the dependency env)
set -euo pipefail
PYTHON=${1:?interpreter of the environment that has the dependencies}
PRESET=${2:-quick}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/source" "$WORK/dist" "$WORK/run/configs/unrelated"
cp -r "$ROOT/src" "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/source/"
find "$WORK/source" \( -name "__pycache__" -o -name "*.egg-info" \) -prune -exec rm -rf {} +
"$PYTHON" -m pip wheel --no-deps --no-build-isolation -q -w "$WORK/dist" "$WORK/source"
"$PYTHON" -m venv --without-pip "$WORK/venv"
SITE=$("$WORK/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
"$PYTHON" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$SITE/_deps.pth"
"$PYTHON" -m pip --python "$WORK/venv/bin/python" install -q --no-deps --no-index "$WORK"/dist/*.whl
cd "$WORK/run"
env -u PYTHONPATH -u THERMOGAP_CONFIG_DIR -u THERMOGAP_STORE "$WORK/venv/bin/python" -c \
    "import thermogap, sys; assert thermogap.__file__.startswith('$WORK/venv'), thermogap.__file__"
env -u PYTHONPATH -u THERMOGAP_CONFIG_DIR -u THERMOGAP_STORE "$WORK/venv/bin/thermogap" presets
env -u PYTHONPATH -u THERMOGAP_CONFIG_DIR -u THERMOGAP_STORE \
    "$WORK/venv/bin/thermogap" demo --preset "$PRESET" --store "$WORK/run/store"
echo "wheel demo ($PRESET): ok"
