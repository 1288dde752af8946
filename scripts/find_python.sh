#!/usr/bin/env bash
# Prints the path of the one Python this project runs on (.python-version: the Lambda runtime, the
# worker image and scripts/package.py follow it): $PYTHON when set, else pythonX.Y on PATH, else
# pyenv's newest X.Y.* build. Exits 1 saying what to install when there is none.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WANT=$(tr -d '[:space:]' < "$ROOT/.python-version")
is_wanted() { # a pyenv shim of another version fails here, as does a missing file
  [ -n "$1" ] && "$1" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$WANT')" 2>/dev/null
}
if [ -n "${PYTHON:-}" ]; then
  is_wanted "$PYTHON" && { echo "$PYTHON"; exit 0; }
  echo "PYTHON=$PYTHON is not Python $WANT" >&2; exit 1
fi
for candidate in "$(command -v "python$WANT" || true)" \
  $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$WANT".*/bin/python 2>/dev/null | sort -rV); do
  if is_wanted "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "Python $WANT is required (.python-version): none on PATH as python$WANT or under pyenv;" \
  "install it (e.g. pyenv install $WANT) or point PYTHON at one" >&2
exit 1
