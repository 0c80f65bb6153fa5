#!/usr/bin/env bash
# Installs the few system tools the build and the tests use, only when missing (Debian/Ubuntu, as root):
# strip (binutils) for the build; unshare/setpriv (util-linux); gosu, tini, dumb-init as peers in tests;
# hyperfine and GNU time for benchmarks; strace to prove what the wrapper writes. Usage: build/ensure-tools.sh build|test
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have strip || need+=(binutils)
if [ "${1:-build}" = test ]; then
  have unshare && have setpriv || need+=(util-linux)
  have gosu || need+=(gosu)
  have tini || need+=(tini)
  have dumb-init || need+=(dumb-init)
  have hyperfine || need+=(hyperfine)
  have strace || need+=(strace)
  [ -x /usr/bin/time ] || need+=(time)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "missing tools: ${need[*]} -- install them (Debian/Ubuntu: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
