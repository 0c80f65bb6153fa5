#!/usr/bin/env bash
# Regenerates the real outputs shown in README.md (between <!-- out:NAME --> markers) by running the
# built binary on the example sandbox. Run as root after `npm run build`: bash build/readme-outputs.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/dist/model-entrypoint"
svc=/srv/example/bark-like-service.sh
sandbox=/srv/example
rm -rf "$sandbox" && mkdir -p "$sandbox/app/models" && chmod 755 "$sandbox" "$sandbox/app" "$sandbox/app/models"
cp "$repo/docker/example/bark-like-service.sh" "$svc"
out="$(mktemp -d)"
cd "$sandbox"
PUID=1000 PGID=1000 "$bin" --print-plan --root "$sandbox/app" --preset hf --preset bark -- "$svc" >"$out/plan" 2>&1
PUID=1000 PGID=1000 "$bin" --root "$sandbox/app" --preset hf --preset bark -- "$svc" >"$out/root" 2>&1
chown -R 0:0 "$sandbox/app/.cache"
setpriv --reuid=1000 --regid=1000 --clear-groups "$bin" --root "$sandbox/app" --preset hf --preset bark -- "$svc" >"$out/uid1000" 2>&1 || true
python3 - "$repo/README.md" "$out" <<'PY'
import re, sys, pathlib
readme, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = readme.read_text()
for name in ('plan', 'root', 'uid1000'):
    body = (out / name).read_text().rstrip('\n')
    # Replace the lines between the marker's opening fence and the next closing fence (none when empty).
    text = re.sub(rf'(<!-- out:{name} -->\n```[a-z]*\n)(?:(?!```).*\n)*(```)', lambda m: m.group(1) + body + '\n' + m.group(2), text)
readme.write_text(text)
PY
rm -rf "$out" "$sandbox"
echo "README.md outputs refreshed"
