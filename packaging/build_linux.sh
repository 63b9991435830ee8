#!/usr/bin/env bash
# Build the Enclave bundle for Linux: dist/enclave (one folder) and a tarball beside it.
#
#   packaging/build_linux.sh [--dist DIR] [--work DIR] [--no-archive] [--no-self-test]
#
# Run it from a checkout whose environment has Enclave installed (./run.sh test sets up
# .venv, PyInstaller included, through the dev extra); PYTHON picks another interpreter.
# Steps: PyInstaller with app.spec; then `enclave --self-test` inside the bundle with no
# network (in a network namespace where `unshare -rn` is allowed); then
# enclave-<version>-linux-<machine>.tar.gz with a .sha256 beside it, for the
# workstations. Prints the bundle's size and the build time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

dist="$root/dist"
work="$root/build/pyinstaller"
archive=1
self_test=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist="$(realpath -m "$2")"; shift 2 ;;
    --work) work="$(realpath -m "$2")"; shift 2 ;;
    --no-archive) archive=0; shift ;;
    --no-self-test) self_test=0; shift ;;
    *) echo "Unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
if ! "$python" -c 'import PyInstaller' >/dev/null 2>&1; then
  echo "PyInstaller is not installed in $python's environment." >&2
  echo "Install the development tools with: $python -m pip install -e '.[dev]'" >&2
  exit 2
fi

version="$("$python" -c 'import desktop_app; print(desktop_app.__version__)')"
echo "Building Enclave $version into $dist/enclave ..."
started=$(date +%s)
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work" app.spec
seconds=$(( $(date +%s) - started ))
bundle="$dist/enclave"
size=$(du -sm "$bundle" | cut -f1)
echo "Built $bundle: ${size} MB in ${seconds} s."

if [ "$self_test" = 1 ]; then
  isolate=()
  if command -v unshare >/dev/null 2>&1 && unshare -rn true >/dev/null 2>&1; then
    isolate=(unshare -rn)
    echo "Running the bundle's self-test with no network (unshare -rn) ..."
  else
    echo "Running the bundle's self-test (no network namespace here; the app's own guard applies) ..."
  fi
  home="$(mktemp -d)"
  trap 'rm -rf "$home"' EXIT
  env -u QT_QPA_PLATFORM -u DISPLAY -u WAYLAND_DISPLAY ENCLAVE_HOME="$home" \
    ${isolate[@]+"${isolate[@]}"} "$bundle/enclave" --self-test
fi

if [ "$archive" = 1 ]; then
  tarball="$dist/enclave-$version-linux-$(uname -m).tar.gz"
  echo "Packing $tarball ..."
  tar -C "$dist" -czf "$tarball" enclave
  (cd "$dist" && sha256sum "$(basename "$tarball")" > "$(basename "$tarball").sha256")
  echo "Archive: $tarball ($(du -m "$tarball" | cut -f1) MB), checksum in $(basename "$tarball").sha256"
fi
