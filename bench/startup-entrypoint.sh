#!/bin/sh
# The POSIX-sh peer of `model-entrypoint --root ROOT -- COMMAND` in bench/startup.mjs: the same three
# directories (HF_HOME, its hub cache, XDG_CACHE_HOME) created when missing and checked for
# writability, the same exports, then exec. One mkdir for all three, test -w is a builtin.
# Usage: startup-entrypoint.sh ROOT COMMAND [ARG...]
set -e
root=$1
shift
export HF_HOME="${HF_HOME:-$root/models}"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$root/.cache}"
mkdir -p "$HF_HOME/hub" "$XDG_CACHE_HOME"
for dir in "$HF_HOME" "$HF_HOME/hub" "$XDG_CACHE_HOME"; do
  test -w "$dir" || echo "startup-entrypoint.sh: $dir is not writable" >&2
done
export PYTHONWARNINGS="ignore:pkg_resources is deprecated as an API,ignore:Deprecated call to \`pkg_resources.declare_namespace${PYTHONWARNINGS:+,$PYTHONWARNINGS}"
exec "$@"
