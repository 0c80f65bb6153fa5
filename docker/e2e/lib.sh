# shellcheck shell=bash
# Infrastructure for the Docker end-to-end suite (sourced by docker/e2e/run.sh).
#
# - installs the engine and tools from apt when missing (docker.io, docker-compose 1.29, debootstrap);
# - starts a private dockerd (own socket, exec-root and pidfile under a temp dir; data-root under the
#   cache dir so the base image survives between runs), waits for `docker info`, and stops it by PID
#   on exit, also on failure or Ctrl-C;
# - builds a base image without any registry: debootstrap minbase + python3-minimal, `docker import`,
#   cached as a tarball and as an image;
# - small helpers for the cases: counters, expectations, waiting, JSON-line queries (jlines.py).
#
# Environment:
#   MODEL_ENTRYPOINT_E2E=0 or SKIP_E2E=1   skip the suite (prints a SKIP line, exits 0)
#   MODEL_ENTRYPOINT_E2E_REQUIRE=1  a reason to skip is a failure instead (exit 1)
#   MODEL_ENTRYPOINT_E2E_CACHE      cache dir (default /var/cache/model-entrypoint-e2e)
#   MODEL_ENTRYPOINT_E2E_MIRROR     Debian mirror for debootstrap (default: the one apt uses)
#   MODEL_ENTRYPOINT_E2E_KEEP=1     keep the temp dir (logs, volumes) for inspection

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_LIB_DIR/../.." && pwd)
E2E_CACHE=${MODEL_ENTRYPOINT_E2E_CACHE:-/var/cache/model-entrypoint-e2e}
E2E_BASE_IMAGE=model-entrypoint-e2e-base:bookworm
E2E_SUITE=bookworm
E2E_START=$(date +%s)
E2E_PASSED=0
E2E_FAILED=0
E2E_FAILED_NAMES=()
E2E_RUN=""          # temp dir of this run
E2E_DOCKERD_PID=""
E2E_DOCKER_BIN=docker
E2E_TIMINGS=()

e2e_log() { printf '%s [e2e] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

e2e_now_ms() { date +%s%3N; }

# Records how long a phase took, printed in the summary.
e2e_timed() {
  local label=$1; shift
  local t0; t0=$(e2e_now_ms)
  "$@"; local rc=$?
  E2E_TIMINGS+=("$label $(( ($(e2e_now_ms) - t0) ))ms")
  return $rc
}

# Prints the SKIP line and the count line, exits 0 (or 1 when skipping is not allowed).
e2e_skip() {
  echo "SKIP: docker e2e suite: $*"
  if [[ ${MODEL_ENTRYPOINT_E2E_REQUIRE:-0} == 1 ]]; then
    echo "MODEL_ENTRYPOINT_E2E_REQUIRE=1: skipping is a failure here"
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
}

# ---------------------------------------------------------------------------------------------------
# Preconditions and installation

e2e_preflight() {
  [[ ${MODEL_ENTRYPOINT_E2E:-1} == 0 ]] && e2e_skip "disabled by MODEL_ENTRYPOINT_E2E=0"
  [[ ${SKIP_E2E:-0} == 1 ]] && e2e_skip "disabled by SKIP_E2E=1"
  [[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] || e2e_skip "needs Linux x86_64 (this is $(uname -sm))"
  [[ $(id -u) == 0 ]] || e2e_skip "needs root to run dockerd (running as uid $(id -u))"
  command -v python3 >/dev/null || e2e_skip "python3 is needed to read JSON logs"
  return 0
}

e2e_install() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v make >/dev/null || need+=(make)
  ((${#need[@]})) || return 0
  command -v apt-get >/dev/null || e2e_skip "missing ${need[*]} and no apt-get to install them"
  e2e_log "installing from apt: ${need[*]}"
  # docker.io's postinst tries to start the service; policy-rc.d (if any) or the absence of systemd
  # stops that, and we start our own dockerd anyway.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" \
      >"$E2E_RUN/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$E2E_RUN/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" \
      >>"$E2E_RUN/apt.log" 2>&1 || { tail -5 "$E2E_RUN/apt.log"; e2e_skip "apt-get install ${need[*]} failed"; }
  fi
}

# The Debian mirror apt is configured with (deb822 .sources or one-line sources.list), for debootstrap.
e2e_mirror() {
  if [[ -n ${MODEL_ENTRYPOINT_E2E_MIRROR:-} ]]; then echo "$MODEL_ENTRYPOINT_E2E_MIRROR"; return; fi
  local m
  m=$(awk -v suite="$E2E_SUITE" '
        BEGIN { RS = ""; FS = "\n" }
        { uris = ""; ok = 0
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
            if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
            if ($i ~ /^Enabled:[ \t]*no/) ok = 0
          }
          if (ok && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit } }
      ' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [[ -z $m && -f /etc/apt/sources.list ]] &&
    m=$(awk -v suite="$E2E_SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break; if ($(i+1) == suite) { print $i; exit } }' /etc/apt/sources.list)
  echo "${m:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------------------------------------------
# The private Docker daemon

e2e_start_dockerd() {
  mkdir -p "$E2E_CACHE/docker-data" "$E2E_RUN/exec"
  export DOCKER_HOST="unix://$E2E_RUN/docker.sock"
  export DOCKER_CONFIG="$E2E_RUN/docker-config"   # leave ~/.docker alone
  # The CLI from the same package as the daemon (a newer static `docker` may come first in PATH).
  E2E_DOCKER_BIN=$(command -v /usr/bin/docker || command -v docker)
  # No default bridge and no iptables changes: the cases need no network, and a system dockerd
  # (if any) keeps its docker0 and its rules. Compose still creates its own project network.
  dockerd --data-root "$E2E_CACHE/docker-data" --exec-root "$E2E_RUN/exec" \
    --pidfile "$E2E_RUN/dockerd.pid" -H "$DOCKER_HOST" \
    --bridge=none --iptables=false --ip-masq=false --log-level=warn \
    >"$E2E_RUN/dockerd.log" 2>&1 &
  E2E_DOCKERD_PID=$!
  local i
  for ((i = 0; i < 120; i++)); do
    if ! kill -0 "$E2E_DOCKERD_PID" 2>/dev/null; then
      tail -n 15 "$E2E_RUN/dockerd.log" >&2
      E2E_DOCKERD_PID=""
      e2e_skip "dockerd exited at start (see its log above): this machine cannot run a Docker engine"
    fi
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 15 "$E2E_RUN/dockerd.log" >&2
  e2e_skip "dockerd did not answer 'docker info' within 60 s"
}

docker() { command "$E2E_DOCKER_BIN" "$@"; }

e2e_stop_dockerd() {
  [[ -n $E2E_DOCKERD_PID ]] || return 0
  kill -TERM "$E2E_DOCKERD_PID" 2>/dev/null
  local i
  for ((i = 0; i < 60; i++)); do kill -0 "$E2E_DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$E2E_DOCKERD_PID" 2>/dev/null; then
    e2e_log "dockerd $E2E_DOCKERD_PID did not stop in 30 s: SIGKILL"
    kill -KILL "$E2E_DOCKERD_PID" 2>/dev/null
  fi
  wait "$E2E_DOCKERD_PID" 2>/dev/null
  E2E_DOCKERD_PID=""
}

# Removes everything the suite created in its daemon (which nothing else uses: the cache dir is
# locked), except the cached base image.
e2e_clean_engine() {
  docker info >/dev/null 2>&1 || return 0
  local ids
  ids=$(docker ps -aq)
  [[ -n $ids ]] && docker rm -f -v $ids >/dev/null 2>&1
  docker network prune -f >/dev/null 2>&1
  docker volume prune -f >/dev/null 2>&1
  ids=$(docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk -v keep="$E2E_BASE_IMAGE" '$1 != keep { print $2 }' | sort -u)
  [[ -n $ids ]] && docker rmi -f $ids >/dev/null 2>&1
  docker image prune -f >/dev/null 2>&1
  return 0
}

e2e_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  e2e_clean_engine
  e2e_stop_dockerd
  if [[ -n $E2E_RUN && -d $E2E_RUN ]]; then
    # Network namespaces dockerd may have left mounted under its exec-root if it was killed.
    awk -v r="$E2E_RUN/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    if [[ ${MODEL_ENTRYPOINT_E2E_KEEP:-0} == 1 ]]; then
      e2e_log "kept $E2E_RUN"
    else
      rm -rf --one-file-system "$E2E_RUN"
    fi
  fi
  exit "$rc"
}

# Creates the temp dir, takes the cache lock, installs, starts dockerd. Traps make sure the daemon
# is stopped and the temp dir removed whatever happens after this.
e2e_setup() {
  e2e_preflight
  E2E_RUN=$(mktemp -d /tmp/model-entrypoint-e2e.XXXXXX)
  chmod 755 "$E2E_RUN"   # bind-mount sources below it must be reachable by uid 1000 in containers
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$E2E_CACHE"
  # One run at a time per cache dir: two daemons on one data-root would corrupt it.
  exec 9>"$E2E_CACHE/lock"
  if ! flock -w 900 9; then e2e_skip "another e2e run holds $E2E_CACHE/lock for more than 15 min"; fi
  e2e_timed install e2e_install
  e2e_timed dockerd e2e_start_dockerd
  e2e_clean_engine   # leftovers of a run that was killed
  e2e_log "dockerd $E2E_DOCKERD_PID up: $(docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}')"
}

# ---------------------------------------------------------------------------------------------------
# Base image without a registry

e2e_base_image() {
  if docker image inspect "$E2E_BASE_IMAGE" >/dev/null 2>&1; then
    e2e_log "base image $E2E_BASE_IMAGE: cached in the engine"
    return 0
  fi
  local tarball="$E2E_CACHE/rootfs-$E2E_SUITE-minbase-python3.tar"
  if [[ ! -s $tarball ]]; then
    local mirror rootfs="$E2E_RUN/rootfs"
    mirror=$(e2e_mirror)
    e2e_log "debootstrap --variant=minbase --include=python3-minimal $E2E_SUITE from $mirror"
    if ! debootstrap --variant=minbase --include=python3-minimal "$E2E_SUITE" "$rootfs" "$mirror" \
        >"$E2E_RUN/debootstrap.log" 2>&1; then
      tail -n 15 "$E2E_RUN/debootstrap.log" >&2
      return 1
    fi
    # What an image needs no copy of: package lists, downloaded .debs, docs, man pages.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball" || return 1
    rm -rf --one-file-system "$rootfs"
  else
    e2e_log "base image: importing cached $tarball"
  fi
  docker import -c 'CMD ["/bin/bash"]' "$tarball" "$E2E_BASE_IMAGE" >/dev/null
}

# ---------------------------------------------------------------------------------------------------
# Expectations and helpers for the cases

E2E_CASE=""
e2e_case() { E2E_CASE=$1; e2e_log "case $1: $2"; }

# expect DESCRIPTION COMMAND [ARG...]: passes when the command exits 0; on failure shows its output.
expect() {
  local desc=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if ((rc == 0)); then
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok   $E2E_CASE: $desc"
  else
    E2E_FAILED=$((E2E_FAILED + 1))
    E2E_FAILED_NAMES+=("$E2E_CASE: $desc")
    echo "FAIL $E2E_CASE: $desc"
    [[ -n $out ]] && printf '%s\n' "$out" | head -n 40 | sed 's/^/     | /'
  fi
  return 0
}

# jl FILE... -- EXPR: evaluates a Python expression over the JSON lines of the files (see jlines.py).
jl() { python3 "$E2E_LIB_DIR/jlines.py" "$@"; }

# Host-side facts.
owner_of() { stat -c '%u:%g' "$1"; }
mode_of() { stat -c '%a' "$1"; }
is_owner() { local got; got=$(owner_of "$1") || return 1; [[ $got == "$2" ]] || { echo "$1 is owned by $got, expected $2"; return 1; }; }
is_absent() { [[ ! -e $1 ]] || { echo "$1 exists"; return 1; }; }
is_eq() { [[ $1 == "$2" ]] || { echo "got '$1', expected '$2'${3:+ ($3)}"; return 1; }; }
not() { ! "$@"; }
is_lt() { (($1 < $2)) || { echo "got $1, expected less than $2${3:+ ($3)}"; return 1; }; }

# Saves a container's stdout (the service's lines) and stderr (the wrapper's pino lines); sets LOGS
# to the two files.
logs_of() {
  local c=$1
  LOGS="$E2E_RUN/$c.out $E2E_RUN/$c.err"
  docker logs "$c" >"$E2E_RUN/$c.out" 2>"$E2E_RUN/$c.err"
}

# Waits until a container's logs contain the given event; 0 when seen (stops early if it exited).
wait_event() {
  local c=$1 event=$2 timeout=${3:-30} i running
  for ((i = 0; i < timeout * 5; i++)); do
    running=$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)
    docker logs "$c" 2>&1 | grep -q "\"event\":\"$event\"" && return 0
    [[ $running == true ]] || { echo "$c is not running and never logged $event"; return 1; }
    sleep 0.2
  done
  echo "$c did not log $event within ${timeout}s"
  return 1
}

# Waits for a health status (healthy/unhealthy); 0 when reached.
wait_health() {
  local c=$1 want=$2 timeout=${3:-30} i
  for ((i = 0; i < timeout * 5; i++)); do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c" 2>/dev/null) == "$want" ]] && return 0
    sleep 0.2
  done
  echo "health of $c is '$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")', not $want after ${timeout}s; last probe output:"
  docker inspect -f '{{range .State.Health.Log}}exit {{.ExitCode}}: {{.Output}}{{end}}' "$c" | tail -n 5
  return 1
}

# Runs a container to completion. Sets CODE (its exit code) and LOGS (its stdout and stderr files).
run_once() {
  local c=$1; shift
  docker run -d --name "$c" "$@" >"$E2E_RUN/$c.err" 2>&1 || { CODE="docker run failed"; return; }
  CODE=$(timeout 120 "$E2E_DOCKER_BIN" wait "$c") || CODE=timeout
  logs_of "$c"
}

e2e_summary() {
  local total=$(( $(date +%s) - E2E_START ))
  echo
  echo "timings: ${E2E_TIMINGS[*]}"
  echo "e2e total duration: ${total}s"
  if ((E2E_FAILED)); then
    echo "failed:"
    printf '  %s\n' "${E2E_FAILED_NAMES[@]}"
  fi
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
}
