#!/usr/bin/env bash
# The main job on an embedded example: a sandbox laid out like a model stack (a models/ volume that
# "Docker" created as root, a missing .cache/ volume) and a Bark-like service. Needs root (it switches
# users, as a container entrypoint does). Usage: npm run example   (or: bash docker/example/run.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../../dist/model-entrypoint"
service="$here/bark-like-service.sh"
# A fresh sandbox of its own each run (EXAMPLE_DIR to choose it; an existing EXAMPLE_DIR is replaced).
sandbox="${EXAMPLE_DIR:-$(mktemp -d /tmp/model-entrypoint-example.XXXXXX)}"
[ -x "$bin" ] || { echo "build first: npm run build" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root: the example starts the entrypoint as root and as uid 1000, like a container" >&2; exit 1; }

rm -rf "$sandbox"
mkdir -p "$sandbox/app/models"          # what `docker run -v ./models:/app/models` leaves: root-owned
chmod 755 "$sandbox" "$sandbox/app" "$sandbox/app/models"
app="$sandbox/app"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. What would happen (nothing is changed)" "PUID=1000 PGID=1000 TRANSFORMERS_CACHE=$app/models/hub model-entrypoint --print-plan --root $app --preset hf --preset bark -- bark-like-service.sh"
PUID=1000 PGID=1000 TRANSFORMERS_CACHE="$app/models/hub" "$bin" --print-plan --root "$app" --preset hf --preset bark -- "$service"

step "2. Container started as root with PUID/PGID=1000, as PID 1 (unshare --pid)" "PUID=1000 PGID=1000 TRANSFORMERS_CACHE=$app/models/hub unshare --pid --fork --mount-proc model-entrypoint --root $app --preset hf --preset bark -- bark-like-service.sh"
PUID=1000 PGID=1000 TRANSFORMERS_CACHE="$app/models/hub" unshare --pid --fork --mount-proc \
  "$bin" --root "$app" --preset hf --preset bark -- "$service"
ls -lna "$app" "$app/.cache/suno"

step "3. A root-owned volume and a container running as user 1000:1000 (setpriv)" "chown -R 0:0 $app/.cache; setpriv --reuid=1000 --regid=1000 --clear-groups model-entrypoint --root $app --preset hf --preset bark -- bark-like-service.sh"
chown -R 0:0 "$app/.cache"
setpriv --reuid=1000 --regid=1000 --clear-groups "$bin" --root "$app" --preset hf --preset bark -- "$service" || echo "(service exited with $?)"

step "4. The host step that fixes it, then the same start again (quiet: only problems are logged)" "model-entrypoint fix-permissions --user 1000:1000 $app/models $app/.cache; setpriv ... model-entrypoint --log-level warn ..."
"$bin" fix-permissions --user 1000:1000 "$app/models" "$app/.cache"
setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=/ "$bin" --root "$app" --preset hf --preset bark --log-level warn -- "$service"
echo
echo "sandbox left in $sandbox for you to look at"
