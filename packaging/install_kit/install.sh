#!/bin/sh
# Install Enclave from this kit (Linux and macOS). Needs Python @PYTHON_VERSION@; uses no network.
#
#   sh install.sh [FOLDER] [--python /path/to/python@PYTHON_VERSION@] [--no-self-test] [--verify-only]
#
# FOLDER defaults to /opt/enclave when run as root, else ~/enclave.
# Exit codes: 0 installed, 1 the install failed part way (run it again), 2 the kit or
# this computer is not suitable (nothing was changed), 3 installed but the self-test failed.
set -u

wanted="@PYTHON_VERSION@"
kit_dir=$(cd "$(dirname "$0")" && pwd) || exit 2

# Take --python out of the arguments; the others go to the installer unchanged.
python="${ENCLAVE_PYTHON:-}"
remaining=$#
while [ "$remaining" -gt 0 ]; do
  argument=$1
  shift
  remaining=$((remaining - 1))
  case $argument in
    --python)
      if [ "$remaining" -eq 0 ]; then
        echo "--python needs the path of a Python $wanted program." >&2
        exit 2
      fi
      python=$1
      shift
      remaining=$((remaining - 1))
      ;;
    --python=*) python=${argument#--python=} ;;
    *) set -- ${1+"$@"} "$argument" ;;
  esac
done

python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

if [ -n "$python" ]; then
  found=$(python_version "$python")
  if [ "$found" != "$wanted" ]; then
    if [ -z "$found" ]; then
      echo "Could not run $python as Python. Check the path you gave with --python." >&2
    else
      echo "Enclave needs Python $wanted, but $python is Python $found." >&2
      echo "Give the path of a Python $wanted program: sh install.sh --python /path/to/python$wanted" >&2
    fi
    exit 2
  fi
else
  tried=""
  for candidate in "python$wanted" python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then
      found=$(python_version "$candidate")
      if [ "$found" = "$wanted" ]; then
        python=$candidate
        break
      fi
      tried="$tried${tried:+,} $candidate (${found:-does not run})"
    fi
  done
  if [ -z "$python" ]; then
    echo "Enclave needs Python $wanted, and none was found on this computer." >&2
    if [ -n "$tried" ]; then
      echo "Found instead:$tried." >&2
    fi
    echo "Install Python $wanted (for example: apt install python$wanted on Debian 12 or" >&2
    echo "Ubuntu 22.04, dnf install python$wanted on RHEL 9, the python.org installer on" >&2
    echo "macOS), then run this again. If it is installed but not on the PATH, name it:" >&2
    echo "sh install.sh --python /path/to/python$wanted" >&2
    exit 2
  fi
fi

# Nothing in this computer's pip settings may point pip at an index or another folder:
# no configuration file, no index. The installer sets the same again for every pip call.
PIP_CONFIG_FILE=/dev/null
PIP_NO_INDEX=1
export PIP_CONFIG_FILE PIP_NO_INDEX
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST

# ${1+"$@"}: "$@" that the old bash of macOS accepts under set -u when there is none.
exec "$python" -I "$kit_dir/installer/install_enclave.py" ${1+"$@"}
