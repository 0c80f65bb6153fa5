#!/usr/bin/env bash
# End-to-end suite in a real Docker engine (issue 5): builds Dockerfile.example on a local base image
# and checks, from the host and from `docker logs` JSON, what users meet in practice.
#
#   bash docker/e2e/run.sh            all cases
#   bash docker/e2e/run.sh a e i      only these
#
# Prints one line per expectation, then `N passed, N failed`; exits 1 if any failed. Prints a SKIP
# line and exits 0 where no Docker engine can run (see lib.sh for the environment variables).
# The binary under test: $MODEL_ENTRYPOINT_BIN, default dist/model-entrypoint (built if missing).
set -uo pipefail
# shellcheck source=docker/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${MODEL_ENTRYPOINT_BIN:-$E2E_REPO/dist/model-entrypoint}
IMAGE=model-entrypoint-e2e:test
ALL_CASES=(a b c d e f g h i j k l m)
CASES=("${@:-${ALL_CASES[@]}}")
UID_GID=1000:1000

# The two volumes of a model service, from host folders <dir>/models and <dir>/cache (no spaces).
mounts() { echo "-v $1/models:/app/models -v $1/cache:/app/.cache"; }

# ---------------------------------------------------------------------------------------------------
# Cases. Each uses its own host folders under $E2E_RUN/<case>/ and containers named mee2e-<case>*.

# a. Clean start: Docker creates the missing bind-mount folders as root; the wrapper, root with
#    PUID/PGID, hands them to 1000:1000 and the service runs and writes as 1000.
case_a() {
  e2e_case a "clean start, root + PUID/PGID=1000, folders missing on the host"
  local v=$E2E_RUN/a c=mee2e-a
  expect "host folders do not exist before the run" is_absent "$v"
  docker run -d --name $c -e PUID=1000 -e PGID=1000 -e MODEL_ENTRYPOINT_PRESETS=hf,bark \
    $(mounts "$v") $IMAGE >/dev/null
  expect "service starts" wait_event $c service.ready 30
  logs_of $c
  expect "models folder on the host owned 1000:1000" is_owner "$v/models" $UID_GID
  expect "cache folder on the host owned 1000:1000" is_owner "$v/cache" $UID_GID
  expect "cache/suno/bark_v0 created, owned 1000:1000" is_owner "$v/cache/suno/bark_v0" $UID_GID
  expect "service runs as uid/gid 1000, without root's groups" jl $LOGS -- \
    'svc["uid"] == svc["euid"] == 1000 and svc["gid"] == svc["egid"] == 1000 and 0 not in svc["groups"]'
  expect "service is PID 1 (the wrapper exec'd it)" jl $LOGS -- 'svc["pid"] == 1'
  expect "service wrote into HF_HOME and suno/bark_v0" jl $LOGS -- \
    'svc["all_written"] and sorted(w["dir"] for w in svc["writes"]) == ["/app/.cache/suno/bark_v0", "/app/models"]'
  expect "service's file in HF_HOME is on the host, owned 1000:1000" is_owner "$v/models/written-by-stub.txt" $UID_GID
  expect "service's file in bark_v0 is on the host, owned 1000:1000" is_owner "$v/cache/suno/bark_v0/written-by-stub.txt" $UID_GID
  expect "HF_HOME and XDG_CACHE_HOME exported, HOME is not /" jl $LOGS -- \
    'svc["env"]["HF_HOME"] == "/app/models" and svc["env"]["XDG_CACHE_HOME"] == "/app/.cache" and svc["env"].get("HOME") not in (None, "/")'
  expect "wrapper logged entrypoint.start, user.switched, entrypoint.exec" jl $LOGS -- \
    'ev("entrypoint.start") and ev("user.switched") and ev("entrypoint.exec")'
  expect "dir line for /app/models: writable, owner 1000" jl $LOGS -- \
    'dir("/app/models").get("writable") is True and dir("/app/models").get("user_id") == 1000'
  expect "dir line for bark_v0 says created" jl $LOGS -- \
    'any(d.get("created") is True for d in dirs("/app/.cache/suno/bark_v0"))'
  expect "no warning or error line" jl $LOGS -- 'not warnings'
  # Log shippers (Loki, Elasticsearch, jq) need each line to be one well-formed object.
  expect "every line of docker logs is a JSON object, no key twice" jl $LOGS -- 'not raw and not dupes'
  docker rm -f $c >/dev/null
}

# b. `--user 1000:1000` over root-owned folders: nothing can be chowned; the wrapper says exactly what
#    is wrong and starts the service anyway; with strict it refuses with 125.
case_b() {
  e2e_case b "--user 1000:1000 over root-owned 755 folders"
  local v=$E2E_RUN/b
  mkdir -p "$v/models" "$v/cache" && chmod 755 "$v/models" "$v/cache"
  run_once mee2e-b --user $UID_GID -e STUB_ONCE=1 -e MODEL_ENTRYPOINT_PRESETS=hf,bark \
    $(mounts "$v") $IMAGE
  expect "without strict the service still starts (exit 0)" is_eq "$CODE" 0
  expect "dir line for /app/models: writable=false, user_id=0, permissions \"755\"" jl $LOGS -- \
    '(d := dir("/app/models")).get("writable") is False and d.get("user_id") == 0 and d.get("group_id") == 0 and d.get("permissions") == "755"'
  expect "it is a warning with an error" jl $LOGS -- \
    'level(dir("/app/models")) == 40 and dir("/app/models").get("error_code") == "EACCES"'
  expect "the hint gives the remediation (fix-permissions / chown / PUID)" jl $LOGS -- \
    'any(k in str(dir("/app/models").get("hint")) for k in ("fix-permissions", "chown", "PUID"))'
  expect "bark_v0 reported unwritable too" jl $LOGS -- \
    'dir("/app/.cache/suno/bark_v0").get("writable") is False'
  expect "the service itself got EACCES (as the real one would)" jl $LOGS -- \
    'not svc["all_written"] and "EACCES" in [w.get("error") for w in svc["writes"]]'
  run_once mee2e-b-strict --user $UID_GID -e MODEL_ENTRYPOINT_STRICT=1 -e MODEL_ENTRYPOINT_PRESETS=hf,bark \
    $(mounts "$v") $IMAGE
  expect "strict: exit 125" is_eq "$CODE" 125
  expect "strict: the service never started" jl $LOGS -- 'not ev("service.ready")'
  expect "strict: exactly one error line, naming /app/models" jl $LOGS -- \
    'len(errors) == 1 and "/app/models" in str(errors[0])'
  expect "host folders unchanged: root 755" is_eq "$(owner_of "$v/models") $(mode_of "$v/models")" "0:0 755"
}

# c. The host step first (docker/Makefile.snippet → model-entrypoint fix-permissions), then
#    `--user 1000:1000`: everything writable, not one warning.
case_c() {
  e2e_case c "fix-permissions on the host, then --user 1000:1000"
  local v=$E2E_RUN/c
  mkdir -p "$v/models/hub" && touch "$v/models/hub/left-by-root" # a folder missing, a root-owned tree
  expect "make fix-permissions (Makefile.snippet) exits 0" \
    make -s -f "$E2E_REPO/docker/Makefile.snippet" fix-permissions MODEL_ENTRYPOINT="$BIN" \
    MODEL_USER=$UID_GID MODEL_DIRS="$v/models $v/cache"
  expect "models tree owned 1000:1000" is_owner "$v/models/hub/left-by-root" $UID_GID
  expect "missing cache folder created, owned 1000:1000" is_owner "$v/cache" $UID_GID
  run_once mee2e-c --user $UID_GID -e STUB_ONCE=1 -e MODEL_ENTRYPOINT_PRESETS=hf,bark \
    $(mounts "$v") $IMAGE
  expect "service exits 0 after its report" is_eq "$CODE" 0
  expect "service wrote everywhere" jl $LOGS -- 'svc["all_written"] and len(svc["writes"]) == 2'
  expect "every dir line says writable" jl $LOGS -- \
    'ev("dir.*") and all(d.get("writable") is not False for d in ev("dir.*"))'
  expect "no warning, no dir.unwritable" jl $LOGS -- \
    'not ev("dir.unwritable") and not warnings'
}

# d. A read-only volume: EROFS reported as "read-only", not as a permission problem.
case_d() {
  e2e_case d ":ro volume"
  local v=$E2E_RUN/d
  mkdir -p "$v/models" && chown $UID_GID "$v/models" # right owner: read-only is the only problem
  run_once mee2e-d -e STUB_ONCE=1 -v "$v/models:/app/models:ro" $IMAGE
  expect "dir line for /app/models: writable=false, error_code EROFS" jl $LOGS -- \
    'dir("/app/models").get("writable") is False and dir("/app/models").get("error_code") == "EROFS"'
  expect "error_meaning says read-only" jl $LOGS -- '"read-only" in str(dir("/app/models").get("error_meaning"))'
  expect "not called a permission problem (no EACCES/EPERM anywhere)" jl $LOGS -- \
    'not [o for o in L if o.get("error_code") in ("EACCES", "EPERM")]'
  expect "service still starts (not strict), exit 0" is_eq "$CODE" 0
  expect "nothing written into the read-only folder" is_eq "$(ls -A "$v/models")" ""
}

# Stops a container with `docker stop -t 5` and prints "<milliseconds> <exit code>".
timed_stop() {
  local t0 t1
  t0=$(e2e_now_ms); docker stop -t 5 "$1" >/dev/null; t1=$(e2e_now_ms)
  echo "$((t1 - t0)) $(docker inspect -f '{{.State.ExitCode}}' "$1")"
}

# e. `docker stop`: SIGTERM reaches the service (PID 1 after exec), which exits with its own code;
#    the same under `--init` with tini as PID 1.
case_e() {
  e2e_case e "docker stop -t 5, without and with --init"
  local v=$E2E_RUN/e c ms code flags
  for flags in "" "--init"; do
    c=mee2e-e${flags:+-init}
    docker run -d --name $c $flags -e STUB_TERM_EXIT=42 -v "$v/models$flags:/app/models" $IMAGE >/dev/null
    expect "${flags:-no init}: service starts" wait_event $c service.ready 30
    read -r ms code < <(timed_stop $c)
    logs_of $c
    expect "${flags:-no init}: stopped in well under the 5 s timeout (${ms} ms)" is_lt "$ms" 2500
    expect "${flags:-no init}: exit code is the service's own (42)" is_eq "$code" 42
    expect "${flags:-no init}: the service's SIGTERM handler ran" jl $LOGS -- \
      'one("service.stopping").get("signal") == "SIGTERM"'
    if [[ -z $flags ]]; then
      expect "no init: the service is PID 1" jl $LOGS -- 'svc["pid"] == 1'
    else
      expect "--init: tini (docker-init) is PID 1, the service its child" jl $LOGS -- \
        'svc["pid1_comm"] in ("docker-init", "tini") and svc["pid"] != 1 and svc["ppid"] == 1'
      expect "--init: the wrapper still prepared and switched user" jl $LOGS -- \
        'svc["uid"] == 1000 and svc["all_written"] and ev("entrypoint.exec")'
    fi
    docker rm -f $c >/dev/null
  done
}

# f. HEALTHCHECK from the image (`model-entrypoint check`): healthy, then unhealthy once the volume
#    is no longer writable for the service user.
case_f() {
  e2e_case f "HEALTHCHECK: healthy, chmod the volume, unhealthy"
  local v=$E2E_RUN/f c=mee2e-f rc
  docker run -d --name $c --health-interval=1s --health-retries=1 --health-timeout=10s \
    -e MODEL_ENTRYPOINT_PRESETS=hf,bark $(mounts "$v") $IMAGE >/dev/null
  expect "image has the check as HEALTHCHECK" is_eq \
    "$(docker inspect -f '{{json .Config.Healthcheck.Test}}' $IMAGE)" '["CMD","model-entrypoint","check"]'
  expect "docker inspect shows healthy" wait_health $c healthy 30
  docker exec $c model-entrypoint check >/dev/null 2>&1; rc=$?
  expect "check exits 0 while healthy" is_eq "$rc" 0
  chmod 0555 "$v/models"   # owner 1000 (after the repair) loses write
  expect "after chmod 555 of the volume: unhealthy" wait_health $c unhealthy 30
  docker exec $c model-entrypoint check >/dev/null 2>&1; rc=$?
  expect "check exits 1 when unhealthy" is_eq "$rc" 1
  expect "the probe output names /app/models" \
    bash -c "docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' $c | grep -q /app/models"
  docker rm -f $c >/dev/null
}

# g. Read-only root filesystem, only /tmp as tmpfs: the wrapper writes nothing outside the volumes.
case_g() {
  e2e_case g "--read-only --tmpfs /tmp"
  local v=$E2E_RUN/g c=mee2e-g
  docker run -d --name $c --read-only --tmpfs /tmp -e MODEL_ENTRYPOINT_PRESETS=hf,bark,torch \
    $(mounts "$v") $IMAGE >/dev/null
  expect "service starts" wait_event $c service.ready 30
  logs_of $c
  expect "service wrote into HF_HOME, bark and torch caches" jl $LOGS -- 'svc["all_written"] and len(svc["writes"]) == 3'
  expect "no error line, no EROFS" jl $LOGS -- \
    'not errors and not [o for o in L if o.get("error_code") == "EROFS"]'
  expect "check works on a read-only root (exit 0)" docker exec $c model-entrypoint check
  expect "still running" is_eq "$(docker inspect -f '{{.State.Running}}' $c)" true
  docker rm -f $c >/dev/null
}

# h. TRANSFORMERS_CACHE set in the image: the service sees HF_HUB_CACHE there and no TRANSFORMERS_CACHE.
case_h() {
  e2e_case h "TRANSFORMERS_CACHE=/app/models/legacy set in the image"
  local v=$E2E_RUN/h
  printf 'FROM %s\nENV TRANSFORMERS_CACHE=/app/models/legacy\n' $IMAGE |
    docker build -q -t model-entrypoint-e2e:legacy - >/dev/null
  run_once mee2e-h -e STUB_ONCE=1 -v "$v/models:/app/models" model-entrypoint-e2e:legacy
  expect "service exits 0" is_eq "$CODE" 0
  expect "service sees HF_HUB_CACHE=/app/models/legacy" jl $LOGS -- 'svc["env"].get("HF_HUB_CACHE") == "/app/models/legacy"'
  expect "service sees no TRANSFORMERS_CACHE" jl $LOGS -- '"TRANSFORMERS_CACHE" not in svc["env"]'
  expect "wrapper logged env.migrated" jl $LOGS -- 'ev("env.migrated") and "TRANSFORMERS_CACHE" in str(ev("env.migrated"))'
}

# i. The compose file, with docker-compose 1.29 from apt: build, host step for the `user:` service,
#    up, all five healthy, check each one from the host side, down.
compose() { docker-compose -p mee2e -f "$E2E_RUN/ctx/docker/compose.yml" "$@"; }
case_i() {
  e2e_case i "docker/compose.yml with $(docker-compose version --short 2>/dev/null || echo docker-compose)"
  local m=$E2E_RUN/ctx/docker/services/models s i status
  export BASE_IMAGE=$E2E_BASE_IMAGE
  expect "docker-compose config accepts the file" compose config -q
  expect "docker-compose build" compose build -q
  # The `user: "1000:1000"` service cannot chown: the documented host step, through the image.
  expect "make fix-permissions-docker for flan-t5" make -s -f "$E2E_REPO/docker/Makefile.snippet" \
    fix-permissions-docker DOCKER="$E2E_DOCKER_BIN" MODEL_DIRS="$m/flan-t5" MODEL_USER=$UID_GID
  expect "docker-compose up -d" compose up -d --no-build
  declare -A ids
  for s in stt flan-t5 guardrails bark audio; do ids[$s]=$(compose ps -q $s); done
  # First probe after the compose file's 10 s interval; wait until no service is "starting".
  for ((i = 0; i < 90; i++)); do
    status=$(for s in "${!ids[@]}"; do
      docker inspect -f '{{.State.Health.Status}}' "${ids[$s]:-none}" 2>/dev/null || echo missing; done | sort | uniq -c | xargs)
    [[ $status == *starting* ]] || break
    sleep 0.5
  done
  expect "all five services healthy" is_eq "$status" "5 healthy"
  for s in stt flan-t5 guardrails bark audio; do
    logs_of "${ids[$s]}"
    expect "$s: runs as 1000:1000 and wrote its models folder" jl $LOGS -- 'svc["uid"] == 1000 and svc["gid"] == 1000 and svc["all_written"]'
    expect "$s: host models folder owned 1000:1000" is_owner "$m/$s" $UID_GID
  done
  expect "bark: /app/.cache/suno/bark_v0 on the host, owned 1000:1000" is_owner "$m/bark/.cache/suno/bark_v0/written-by-bark.txt" $UID_GID
  expect "guardrails: the overridden entrypoint still runs the wrapper (--strict, then exec)" jl \
    "$E2E_RUN/${ids[guardrails]}.out" "$E2E_RUN/${ids[guardrails]}.err" -- 'ev("entrypoint.exec") and svc["argv"][-1] == "guardrails"'
  expect "audio: init: true puts tini at PID 1" jl "$E2E_RUN/${ids[audio]}.out" -- 'svc["pid1_comm"] in ("docker-init", "tini")'
  expect "flan-t5: user: 1000:1000, no warning after the host step" jl "$E2E_RUN/${ids[flan-t5]}.err" -- \
    'not warnings'
  expect "docker-compose down" compose down --timeout 10
  expect "no container left" is_eq "$(docker ps -aq --filter label=com.docker.compose.project=mee2e)" ""
}

# j. What a Kubernetes Deployment with runAsUser/runAsGroup/fsGroup does, reproduced with Docker: the
#    kubelet gives the volume to group fsGroup with setgid g+rwx and adds fsGroup to the process's groups.
case_j() {
  e2e_case j "Kubernetes-like: --user 1000:1000 --group-add 2000 (fsGroup), read-only root"
  local v=$E2E_RUN/j
  mkdir -p "$v/models" "$v/cache" && chown 0:2000 "$v/models" "$v/cache" && chmod 2775 "$v/models" "$v/cache"
  run_once mee2e-j --user $UID_GID --group-add 2000 --read-only --tmpfs /tmp -e STUB_ONCE=1 \
    -e MODEL_ENTRYPOINT_PRESETS=hf,bark $(mounts "$v") $IMAGE
  expect "service exits 0 and wrote everywhere (through group 2000)" jl $LOGS -- \
    'svc["all_written"] and 2000 in svc["groups"]'
  expect "no folder reported unwritable" jl $LOGS -- 'not ev("dir.unwritable")'
  expect "exit 0" is_eq "$CODE" 0
  # mkdir in a setgid folder inherits its group and setgid bit; the wrapper must not chmod that away,
  # or everything below its folders loses the fsGroup.
  expect "folders the wrapper created keep the setgid bit (mode 2xxx)" \
    is_eq "$(mode_of "$v/cache/suno") $(mode_of "$v/cache/suno/bark_v0")" "2755 2755"
  expect "files created in the setgid volume belong to group 2000" is_owner "$v/cache/suno/bark_v0/written-by-stub.txt" 1000:2000
  expect "dir.created reports the group the folder really has (2000)" jl $LOGS -- \
    '[d.get("group_id") for d in ev("dir.created") if d.get("path") == "/app/.cache/suno"] == [2000]'
}

# k. OpenShift: an arbitrary uid with no passwd entry, group 0, group-writable volumes.
case_k() {
  e2e_case k "OpenShift-like: --user 1000680000:0, read-only root, PUID/PGID cleared, root:root 775 volumes"
  local v=$E2E_RUN/k
  mkdir -p "$v/models" "$v/cache" && chmod 775 "$v/models" "$v/cache"
  run_once mee2e-k --user 1000680000:0 --read-only --tmpfs /tmp -e PUID= -e PGID= -e STUB_ONCE=1 \
    -e MODEL_ENTRYPOINT_PRESETS=hf,bark $(mounts "$v") $IMAGE
  expect "exit 0" is_eq "$CODE" 0
  expect "service runs as 1000680000:0 and wrote everywhere (group 0 can write)" jl $LOGS -- \
    'svc["uid"] == 1000680000 and svc["gid"] == 0 and svc["all_written"]'
  expect "HOME is /app (no passwd entry), never /" jl $LOGS -- 'svc["env"].get("HOME") == "/app"'
  expect "no warning (PUID/PGID cleared: nothing to switch)" jl $LOGS -- 'not warnings'
  # With the image's PUID/PGID=1000 left in place: one warning that says what to change, then the service.
  run_once mee2e-k-puid --user 1000680000:0 --read-only --tmpfs /tmp -e STUB_ONCE=1 $(mounts "$v") $IMAGE
  expect "PUID left at 1000: exit 0, a single user.not_switched warning" jl $LOGS -- \
    'svc["uid"] == 1000680000 and [w.get("event") for w in warnings] == ["user.not_switched"]'
}

# l. The Kubernetes manifests: no cluster here, so they must at least parse and agree with the image
#    (mount paths = its HF_HOME/XDG_CACHE_HOME, probe = its HEALTHCHECK, no command: override, ...).
case_l() {
  e2e_case l "docker/k8s manifests parse and agree with the image"
  local py=python3 k=$E2E_REPO/docker/k8s
  /usr/bin/python3 -c 'import yaml' 2>/dev/null && py=/usr/bin/python3   # python3-yaml comes with docker-compose
  docker inspect -f '{{json .Config}}' $IMAGE >"$E2E_RUN/image-config.json"
  expect "deployment.yaml and openshift.yaml agree with the image" \
    $py "$E2E_LIB_DIR/k8s_check.py" "$E2E_RUN/image-config.json" "$k/deployment.yaml" "$k/openshift.yaml"
  # The checker must be able to fail: a `command:` override, the classic way to lose the wrapper.
  sed 's/^\( *\)image: \(.*\)$/\1image: \2\n\1command: ["python3", "service.py"]/' "$k/deployment.yaml" >"$E2E_RUN/bad-deployment.yaml"
  expect "the check catches a command: override" not $py "$E2E_LIB_DIR/k8s_check.py" "$E2E_RUN/image-config.json" "$E2E_RUN/bad-deployment.yaml"
}

# m. A base image without glibc (as on Alpine/musl): the executable cannot start at all. This pins
#    down what Dockerfile.example says happens.
case_m() {
  e2e_case m "no glibc in the image (Alpine/musl-like)"
  local r=$E2E_RUN/m/rootfs code err
  mkdir -p "$r/usr/local/bin" "$r/app" && cp "$BIN" "$r/usr/local/bin/model-entrypoint"
  tar -C "$r" -c . | docker import -c 'ENTRYPOINT ["model-entrypoint"]' -c 'ENV PATH=/usr/local/bin' - model-entrypoint-e2e:noglibc >/dev/null
  docker run --name mee2e-m model-entrypoint-e2e:noglibc check >/dev/null 2>"$E2E_RUN/m.err"; code=$?
  err=$(cat "$E2E_RUN/m.err")
  expect "docker run fails (exit $code)" is_eq "$((code != 0))" 1
  expect "with 'no such file or directory' although the file exists ($err)" \
    grep -q 'no such file or directory' "$E2E_RUN/m.err"
}

# ---------------------------------------------------------------------------------------------------

ensure_binary() {
  [[ -x $BIN ]] && return 0
  if [[ -z ${MODEL_ENTRYPOINT_BIN:-} && -f $E2E_REPO/src/main.ts ]]; then
    e2e_log "building $BIN (npm run build)"
    (cd "$E2E_REPO" && npm run -s build >"$E2E_RUN/build.log" 2>&1) || { tail -n 20 "$E2E_RUN/build.log"; return 1; }
    [[ -x $BIN ]] && return 0
  fi
  echo "no executable at $BIN (set MODEL_ENTRYPOINT_BIN or run npm run build)"
  return 1
}

# The build context: the repo's own files at their repo paths, without node_modules and .git.
build_image() {
  local ctx=$E2E_RUN/ctx
  mkdir -p "$ctx/dist" "$ctx/docker"
  cp "$E2E_REPO/Dockerfile.example" "$ctx/"
  cp "$E2E_REPO/docker/stub-service.py" "$E2E_REPO/docker/compose.yml" "$ctx/docker/"
  ln "$BIN" "$ctx/dist/model-entrypoint" 2>/dev/null || cp "$BIN" "$ctx/dist/model-entrypoint"
  # Host network for the build only: the base has no libatomic1 (like -slim images), so the
  # Dockerfile's RUN installs it from the Debian mirror, as it would for a user of python:3.11-slim.
  docker build -q --network host --build-arg BASE_IMAGE=$E2E_BASE_IMAGE -f "$ctx/Dockerfile.example" -t $IMAGE "$ctx" >/dev/null
}

has_libatomic() { docker run --rm --entrypoint /bin/sh "$1" -c "ldconfig -p | grep -q 'libatomic\.so\.1 '"; }

main() {
  e2e_setup
  e2e_case setup "binary, base image, image from Dockerfile.example"
  expect "executable under test: $BIN" ensure_binary || true
  e2e_timed base-image expect "base image $E2E_BASE_IMAGE (debootstrap + docker import, cached)" e2e_base_image
  expect "the base image has no libatomic.so.1, like python:3.11-slim" not has_libatomic $E2E_BASE_IMAGE
  e2e_timed build-image expect "docker build -f Dockerfile.example --build-arg BASE_IMAGE=$E2E_BASE_IMAGE" build_image
  expect "the built image has libatomic.so.1 (installed by the Dockerfile)" has_libatomic $IMAGE
  if ((E2E_FAILED)); then
    e2e_summary
    exit 1
  fi
  local c
  for c in "${CASES[@]}"; do
    declare -F "case_$c" >/dev/null || { echo "unknown case '$c' (cases: ${ALL_CASES[*]})"; exit 2; }
    e2e_timed "$c" "case_$c"
  done
  e2e_summary
  ((E2E_FAILED == 0))
}

main
