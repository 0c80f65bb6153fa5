// Bad input, table-driven, against the BUILT binary. Every case asserts the exit code and that stderr
// holds only JSON lines (never a stack trace or Node's own error text). A failing case must write
// exactly one `level: error` line that names the bad input and carries a hint, and (by a snapshot of
// its whole work tree before and after) must change nothing and leave nothing behind. A case the
// wrapper survives must start the service and leave no probe file. Mounts (read-only bind, a full
// tmpfs, a quota'd tmpfs) live in a private mount namespace (`unshare --mount`) around the binary; the
// snapshots of those trees are taken inside the namespace, before and after the binary ran.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, BASE_ENV, byEvent, runBinary, SERVICE, snapshotTree, tempRoot, type LogLine, type RunResult } from '../helpers/binary.js';

const SECRET = 'hf_BADinputPLANTEDtoken_9071';
const PROBE = '.model-entrypoint-probe';
const MIB = 1024 * 1024;
/** Linux refuses any single argv or environment string longer than this (MAX_ARG_STRLEN, 32 pages). */
const MAX_ARG_STRLEN = 128 * 1024;

interface Ctx {
  /** The case's whole work tree: snapshotted before and after. */
  work: string;
  /** --root of the case: `${work}/app`, missing unless the setup or the layout creates it. */
  root: string;
}

type Env = Record<string, string | undefined>;
type MountKind = 'ro' | 'full' | 'quota';

interface Case {
  name: string;
  args: (c: Ctx) => string[];
  env?: (c: Ctx) => Env;
  /** `volumes`: app/models/hub and app/.cache exist already, as Docker volumes would. Default: nothing exists. */
  layout?: 'volumes';
  setup?: (c: Ctx) => void;
  /** Run inside `unshare --mount` with app/ mounted this way. */
  mount?: MountKind;
  status: number;
  /** Failing cases: text the single error line's msg must contain. */
  names?: (c: Ctx) => string;
  /** Extra assertions. */
  check?: (r: RunResult, c: Ctx) => void;
  /** Why the case cannot run here (printed, and the case is skipped). */
  skip?: string;
}

const errorsOf = (r: RunResult) => r.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
const warnings = (r: RunResult, event: string) => byEvent(r.logs, event).filter((l) => l.level === 'warn');
const longPath = (n: number) => `/${'a'.repeat(n - 1)}`;

function configFile(c: Ctx, text: string): string {
  const p = join(c.work, 'config.json');
  writeFileSync(p, text);
  return p;
}

function script(c: Ctx, name: string, text: string, mode: number): string {
  const p = join(c.work, name);
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Mount namespaces: app/ exists on the host (created before the host snapshot); for \`ro\` it holds
// models/ and .cache/ (hub is missing, so creating it meets EROFS). The script mounts app/, lists the tree, runs the binary as a child (not exec, so
// the tree can be listed again afterwards), lists it again, and exits with the binary's status.
const MOUNT_SCRIPT = String.raw`kind=$1; w=$2; shift 2
app="$w/app"
fail() { echo "mount-case: setup failed: $1" >&2; exit 111; }
case "$kind" in
  ro) mount --bind "$app" "$app" && mount -o remount,bind,ro "$app" || fail ro ;;
  full) mount -t tmpfs -o size=64k,mode=755 tmpfs "$app" && mkdir -p "$app/models/hub" "$app/.cache" || fail full
        dd if=/dev/zero of="$app/filler" bs=4096 2>/dev/null; [ "$(stat -f -c %a "$app")" = 0 ] || fail "tmpfs not full" ;;
  quota) mount -t tmpfs -o size=4m,mode=755,usrquota,usrquota_block_hardlimit=64k tmpfs "$app" || fail quota
        mkdir -p "$app/models/hub" "$app/.cache" && chown -R 1000:1000 "$app" || fail quota-dirs
        setpriv --reuid=1000 --regid=1000 --clear-groups dd if=/dev/zero of="$app/.cache/filler" bs=4096 2>/dev/null; true ;;
esac
snap() { find "$app" -printf '%p %m %U:%G %y\n' | sort; }
before=$(snap)
"$@"; rc=$?
after=$(snap)
printf '@@before\n%s\n@@after\n%s\n' "$before" "$after"
exit $rc`;

const MOUNT_WRAP = (kind: MountKind, c: Ctx) => ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', MOUNT_SCRIPT, 'mount-case', kind, c.work];

/** The in-namespace listings printed by MOUNT_SCRIPT. */
function mountSnapshots(stdout: string): { before: string[]; after: string[] } {
  const m = /@@before\n([\s\S]*)\n@@after\n([\s\S]*)$/.exec(stdout);
  if (!m) throw new Error(`no in-namespace snapshot in stdout:\n${stdout}`);
  const split = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
  return { before: split(m[1]), after: split(m[2]) };
}

/** tmpfs quotas (Linux >= 6.6 with CONFIG_TMPFS_QUOTA) are the one way to get EDQUOT without tools. */
function quotaUnavailable(): string | undefined {
  const dir = tempRoot('me-quota-probe-');
  try {
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'mount', '-t', 'tmpfs', '-o', 'size=1m,usrquota,usrquota_block_hardlimit=64k', 'tmpfs', dir], { encoding: 'utf8' });
    if (r.error) return `cannot run unshare: ${r.error.message}`;
    return r.status === 0 ? undefined : `this kernel's tmpfs has no quota support (CONFIG_TMPFS_QUOTA, Linux >= 6.6): ${r.stderr.trim().split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--', 'true']).status === 0;
const mountSkip = canMount ? undefined : 'needs root and unshare --mount';
const quotaSkip = mountSkip ?? quotaUnavailable();

// ---------------------------------------------------------------------------------------------------
const CASES: Case[] = [
  // Command line
  { name: 'unknown flag', args: (c) => ['--bogus', '--root', c.root, 'true'], status: 125, names: () => '--bogus' },
  { name: 'unknown short flag', args: (c) => ['-x', '--root', c.root, 'true'], status: 125, names: () => '-x' },
  { name: 'flag without value (last argument)', args: () => ['--root'], status: 125, names: () => '--root' },
  { name: '--dir without value', args: (c) => ['--root', c.root, '--dir'], status: 125, names: () => '--dir' },
  { name: 'boolean flag given a value', args: (c) => ['--strict=yes', '--root', c.root, 'true'], status: 125, names: () => '--strict' },
  { name: '`--` with no command', args: (c) => ['--root', c.root, '--'], status: 125, names: () => '`--`' },
  { name: 'no command at all', args: (c) => ['--root', c.root], status: 125, names: () => 'no service command' },
  { name: 'empty command', args: (c) => ['--root', c.root, '--', ''], status: 125, names: () => 'empty string' },
  { name: 'check with an argument', args: (c) => ['check', '--root', c.root, 'extra'], status: 125, names: () => '"extra"' },
  // PUID / PGID
  ...['abc', '-1', '4294967296', '1.5', ' 1000', '1000 ', '0x3e8'].map((puid): Case => ({
    name: `PUID=${JSON.stringify(puid)}`, args: (c) => ['--root', c.root, 'true'], env: () => ({ PUID: puid }), status: 125, names: () => `PUID=${JSON.stringify(puid)}`,
  })),
  { name: 'PGID not a number', args: (c) => ['--root', c.root, 'true'], env: () => ({ PUID: '1000', PGID: 'staff' }), status: 125, names: () => 'PGID="staff"' },
  { name: 'PGID without PUID', args: (c) => ['--root', c.root, 'true'], env: () => ({ PGID: '1000' }), status: 125, names: () => 'PGID="1000"' },
  // --user specs
  { name: 'unknown user name', args: (c) => ['--user', 'no-such-user-xyz', '--root', c.root, 'true'], status: 125, names: () => 'no-such-user-xyz' },
  { name: 'unknown group name', args: (c) => ['--user', '1000:no-such-group-xyz', '--root', c.root, 'true'], status: 125, names: () => 'no-such-group-xyz' },
  ...['::', 'a:b:c', '-5', '1000:-1', ' 1000', '99999999999', '4294967295'].map((spec): Case => ({
    name: `malformed --user ${JSON.stringify(spec)}`, args: (c) => ['--user', spec, '--root', c.root, 'true'], status: 125, names: () => JSON.stringify(spec),
  })),
  { name: 'empty --user', args: (c) => ['--user=', '--root', c.root, 'true'], status: 125, names: () => '--user' },
  // Paths
  { name: 'relative --root', args: () => ['--root', 'app', 'true'], status: 125, names: () => '"app"' },
  { name: 'relative --dir', args: (c) => ['--root', c.root, '--dir', './data', 'true'], status: 125, names: () => './data' },
  { name: 'relative HF_HOME', args: (c) => ['--root', c.root, 'true'], env: () => ({ HF_HOME: 'models' }), status: 125, names: () => 'HF_HOME' },
  { name: 'relative entry in MODEL_ENTRYPOINT_DIRS', args: (c) => ['--root', c.root, 'true'], env: (c) => ({ MODEL_ENTRYPOINT_DIRS: `${c.work}/ok:data` }), status: 125, names: () => 'MODEL_ENTRYPOINT_DIRS' },
  { name: 'relative TORCH_HOME with the torch preset', args: (c) => ['--root', c.root, '--preset', 'torch', 'true'], env: () => ({ TORCH_HOME: 'torch' }), status: 125, names: () => 'TORCH_HOME' },
  { name: 'relative TRANSFORMERS_CACHE', args: (c) => ['--root', c.root, 'true'], env: () => ({ TRANSFORMERS_CACHE: 'cache' }), status: 125, names: () => 'TRANSFORMERS_CACHE' },
  {
    name: 'directory path that is a file', args: (c) => ['--root', c.root, '--dir', `${c.work}/weights.bin`, 'true'], status: 125, names: (c) => `${c.work}/weights.bin`,
    setup: (c) => writeFileSync(join(c.work, 'weights.bin'), 'x'),
  },
  {
    name: 'directory path below a file', args: (c) => ['--root', c.root, '--dir', `${c.work}/weights.bin/sub`, 'true'], status: 125, names: (c) => `${c.work}/weights.bin`,
    setup: (c) => writeFileSync(join(c.work, 'weights.bin'), 'x'),
  },
  {
    name: 'dangling symlink', args: (c) => ['--root', c.root, '--dir', `${c.work}/link`, 'true'], status: 125, names: (c) => `${c.work}/link`,
    setup: (c) => symlinkSync(join(c.work, 'nowhere'), join(c.work, 'link')),
  },
  {
    name: 'symlink loop', args: (c) => ['--root', c.root, '--dir', `${c.work}/loop1`, 'true'], status: 125, names: (c) => `${c.work}/loop1`,
    setup: (c) => (symlinkSync(join(c.work, 'loop2'), join(c.work, 'loop1')), symlinkSync(join(c.work, 'loop1'), join(c.work, 'loop2'))),
  },
  {
    name: 'path below a symlink loop', args: (c) => ['--root', c.root, '--dir', `${c.work}/loop1/models`, 'true'], status: 125, names: (c) => `${c.work}/loop1`,
    setup: (c) => (symlinkSync(join(c.work, 'loop2'), join(c.work, 'loop1')), symlinkSync(join(c.work, 'loop1'), join(c.work, 'loop2'))),
  },
  {
    // argv and environment strings cannot hold a NUL (execve ends them there): a JSON config can.
    name: 'path with a NUL byte (config JSON "\\u0000")', args: (c) => ['--config', configFile(c, '{"dir": ["/app/a\\u0000b"]}'), '--root', c.root, 'true'], status: 125, names: () => 'NUL',
    check: (r) => expect(errorsOf(r)[0].msg).toContain('"dir"'),
  },
  { name: '5000-character path', args: (c) => ['--root', c.root, '--dir', longPath(5000), 'true'], status: 125, names: () => '--dir is 5000 characters long' },
  { name: 'path component longer than 255 bytes', args: (c) => ['--root', c.root, '--dir', `/data/${'b'.repeat(300)}`, 'true'], status: 125, names: () => 'longer than 255 bytes' },
  { name: 'largest single argument Linux allows (128 KiB) as a path', args: (c) => ['--root', c.root, '--dir', longPath(MAX_ARG_STRLEN - 1), 'true'], status: 125, names: () => `${MAX_ARG_STRLEN - 1} characters long` },
  {
    name: '1 MiB value (config JSON; one argv string cannot exceed 128 KiB on Linux)', args: (c) => ['--config', configFile(c, JSON.stringify({ dir: [longPath(MIB)] })), '--root', c.root, 'true'], status: 125,
    names: () => `${MIB} characters long`,
    check: (r) => expect(r.stderr.length, 'the error line does not echo the 1 MiB value').toBeLessThan(4096),
  },
  // Config file
  { name: 'non-existent config file', args: (c) => ['--config', `${c.work}/missing.json`, '--root', c.root, 'true'], status: 125, names: (c) => `${c.work}/missing.json` },
  { name: 'non-existent config file from MODEL_ENTRYPOINT_CONFIG', args: (c) => ['--root', c.root, 'true'], env: (c) => ({ MODEL_ENTRYPOINT_CONFIG: `${c.work}/missing.json` }), status: 125, names: (c) => `${c.work}/missing.json` },
  { name: 'config file is a directory', args: (c) => ['--config', c.work, '--root', c.root, 'true'], status: 125, names: (c) => `${c.work} (EISDIR)` },
  { name: 'config not JSON', args: (c) => ['--config', configFile(c, "{preset: 'bark',}"), '--root', c.root, 'true'], status: 125, names: () => 'not valid JSON' },
  { name: 'config JSON array, not an object', args: (c) => ['--config', configFile(c, '["bark"]'), '--root', c.root, 'true'], status: 125, names: () => 'must hold a JSON object, got an array' },
  { name: 'config JSON null', args: (c) => ['--config', configFile(c, 'null'), '--root', c.root, 'true'], status: 125, names: () => 'must hold a JSON object, got null' },
  { name: 'config unknown key', args: (c) => ['--config', configFile(c, '{"presets": ["bark"]}'), '--root', c.root, 'true'], status: 125, names: () => 'unknown key "presets"' },
  { name: 'config wrong type: boolean', args: (c) => ['--config', configFile(c, '{"strict": "yes"}'), '--root', c.root, 'true'], status: 125, names: () => 'key "strict" must be a boolean' },
  { name: 'config wrong type: list of paths', args: (c) => ['--config', configFile(c, '{"dir": [42]}'), '--root', c.root, 'true'], status: 125, names: () => 'key "dir" must be a list of absolute path strings' },
  { name: 'config wrong type: size', args: (c) => ['--config', configFile(c, '{"min-free": 5}'), '--root', c.root, 'true'], status: 125, names: () => 'key "min-free" must be a size string' },
  { name: 'config wrong type: user', args: (c) => ['--config', configFile(c, '{"user": 1000}'), '--root', c.root, 'true'], status: 125, names: () => 'key "user" must be a string' },
  // Choices and sizes
  { name: 'unknown preset', args: (c) => ['--root', c.root, '--preset', 'whisper', 'true'], status: 125, names: () => '"whisper"' },
  { name: 'unknown preset in MODEL_ENTRYPOINT_PRESETS', args: (c) => ['--root', c.root, 'true'], env: () => ({ MODEL_ENTRYPOINT_PRESETS: 'hf,whisper' }), status: 125, names: () => 'MODEL_ENTRYPOINT_PRESETS: unknown value "whisper"' },
  { name: 'bad --min-free', args: (c) => ['--root', c.root, '--min-free', '5Q', 'true'], status: 125, names: () => '--min-free: "5Q"' },
  { name: 'negative MODEL_ENTRYPOINT_MIN_FREE', args: (c) => ['--root', c.root, 'true'], env: () => ({ MODEL_ENTRYPOINT_MIN_FREE: '-1G' }), status: 125, names: () => 'MODEL_ENTRYPOINT_MIN_FREE: "-1G"' },
  { name: 'bad --log-level', args: (c) => ['--root', c.root, '--log-level', 'loud', 'true'], status: 125, names: () => '--log-level: unknown value "loud"' },
  { name: 'bad LOG_LEVEL', args: (c) => ['--root', c.root, 'true'], env: () => ({ LOG_LEVEL: 'verbose' }), status: 125, names: () => 'LOG_LEVEL: unknown value "verbose"' },
  { name: 'bad --log-format', args: (c) => ['--root', c.root, '--log-format', 'xml', 'true'], status: 125, names: () => '"xml"' },
  { name: 'bad --repair', args: (c) => ['--root', c.root, '--repair', 'sometimes', 'true'], status: 125, names: () => '"sometimes"' },
  { name: 'bad MODEL_ENTRYPOINT_STRICT', args: (c) => ['--root', c.root, 'true'], env: () => ({ MODEL_ENTRYPOINT_STRICT: 'maybe' }), status: 125, names: () => 'MODEL_ENTRYPOINT_STRICT' },
  // Filesystems
  {
    name: 'read-only mount (EROFS): the service still starts, the dir lines say read-only', mount: 'ro', skip: mountSkip, args: (c) => ['--root', c.root, '--', 'true'], status: 0,
    check: (r, c) => {
      const lines = warnings(r, 'dir.unwritable');
      expect(lines.map((l) => l.path).sort()).toEqual([`${c.root}/.cache`, `${c.root}/models`, `${c.root}/models/hub`]);
      for (const l of lines) {
        expect(l).toMatchObject({ error_code: 'EROFS', error_meaning: 'the filesystem is mounted read-only', writable: false });
        expect(String(l.msg)).toContain('read-only');
        expect(String(l.msg) + String(l.hint)).not.toMatch(/permission denied|chown/i);
      }
    },
  },
  {
    name: 'read-only mount (EROFS) with --strict', mount: 'ro', skip: mountSkip, args: (c) => ['--strict', '--root', c.root, '--', 'true'], status: 125, names: (c) => `${c.root}/models`,
    check: (r) => expect(String(errorsOf(r)[0].hint)).toMatch(/read-only/),
  },
  {
    name: 'full filesystem (64 KiB tmpfs, ENOSPC): the service still starts, the dir lines say so', mount: 'full', skip: mountSkip, args: (c) => ['--root', c.root, '--', 'true'], status: 0,
    check: (r) => {
      const lines = warnings(r, 'dir.unwritable');
      expect(lines).toHaveLength(3);
      for (const l of lines) expect(l).toMatchObject({ error_code: 'ENOSPC', error_meaning: 'no space left on the device', free_bytes: 0 });
    },
  },
  { name: 'full filesystem (ENOSPC) with --strict', mount: 'full', skip: mountSkip, args: (c) => ['--strict', '--root', c.root, '--', 'true'], status: 125, names: (c) => `${c.root}/models` },
  {
    name: 'user quota exhausted (EDQUOT, tmpfs quota)', mount: 'quota', skip: quotaSkip, args: (c) => ['--root', c.root, '--', 'true'], env: () => ({ PUID: '1000', PGID: '1000' }), status: 0,
    check: (r) => {
      const lines = warnings(r, 'dir.unwritable');
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatchObject({ error_code: 'EDQUOT', error_meaning: 'the disk quota of this user is exhausted' });
    },
  },
  // The command
  { name: 'command not found', args: (c) => ['--root', c.root, 'no-such-model-server'], status: 127, names: () => '"no-such-model-server"' },
  { name: 'command not found with PATH unset (execvp default /bin:/usr/bin)', args: (c) => ['--root', c.root, 'no-such-model-server'], env: () => ({ PATH: undefined }), status: 127, names: () => 'unset' },
  { name: 'relative command path that does not exist', args: (c) => ['--root', c.root, './serve.py'], status: 127, names: () => './serve.py' },
  { name: 'command not executable (mode 644)', args: (c) => ['--root', c.root, script(c, 'serve.sh', '#!/bin/sh\nexit 0\n', 0o644)], status: 126, names: (c) => `${c.work}/serve.sh` },
  { name: 'command is a directory', args: (c) => ['--root', c.root, '--', c.work], status: 126, names: (c) => `"${c.work}" is a directory` },
  {
    name: 'script without #! line (ENOEXEC)', layout: 'volumes', args: (c) => ['--root', c.root, script(c, 'serve', 'echo hi\n', 0o755)], status: 126, names: (c) => `${c.work}/serve`,
    check: (r) => expect(errorsOf(r)[0].error_code).toBe('ENOEXEC'),
  },
  { name: 'script whose #! interpreter is missing', layout: 'volumes', args: (c) => ['--root', c.root, script(c, 'serve', '#!/no/such/python3\n', 0o755)], status: 127, names: (c) => `${c.work}/serve` },
  // Environment
  {
    name: 'TRANSFORMERS_CACHE conflicting with HF_HUB_CACHE: warn naming both, keep HF_HUB_CACHE, start', args: (c) => ['--root', c.root, SERVICE], status: 0,
    env: (c) => ({ TRANSFORMERS_CACHE: `${c.work}/old-cache`, HF_HUB_CACHE: `${c.work}/hub` }),
    check: (r, c) => {
      const conflict = warnings(r, 'env.conflict');
      expect(conflict).toHaveLength(1);
      expect(conflict[0].msg).toContain(`${c.work}/old-cache`);
      expect(conflict[0].msg).toContain(`${c.work}/hub`);
      expect(r.service['env.HF_HUB_CACHE']).toEqual([`${c.work}/hub`]);
      expect(r.service['env.TRANSFORMERS_CACHE']).toEqual(['<unset>']);
    },
  },
  {
    name: 'HOME unset, no user switch: passes through unset', args: (c) => ['--root', c.root, SERVICE], env: () => ({ HOME: undefined }), status: 0,
    check: (r) => expect(r.service.home).toEqual(['<unset>']),
  },
  {
    name: 'HOME unset, PUID without a passwd entry: HOME is $ROOT, never /', args: (c) => ['--root', c.root, SERVICE], env: () => ({ HOME: undefined, PUID: '4321', PGID: '4321' }), status: 0,
    check: (r, c) => expect([r.service.uid, r.service.home]).toEqual([['4321'], [c.root]]),
  },
  {
    name: 'PATH unset: the command is found as execvp finds it (/bin:/usr/bin)', args: (c) => ['--root', c.root, 'sh', '-c', 'echo ran=yes'], env: () => ({ PATH: undefined }), status: 0,
    check: (r) => {
      expect(r.service.ran).toEqual(['yes']);
      expect(String(byEvent(r.logs, 'entrypoint.exec')[0].command)).toMatch(/^\/(usr\/)?bin\/sh$/);
    },
  },
  {
    name: 'an environment of 10,000 variables reaches the service whole (secret-named ones never logged)', args: (c) => ['--root', c.root, 'sh', '-c', 'echo "bulk=$(env | grep -c "^BULK_")"'], status: 0,
    env: () => Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [i % 1000 === 0 ? `BULK_${i}_TOKEN` : `BULK_${i}`, i % 1000 === 0 ? `bulk-secret-${i}-value` : `v${i}`])),
    check: (r) => {
      expect(r.service.bulk).toEqual(['10000']);
      expect(r.stderr).not.toMatch(/bulk-secret-\d+-value/);
    },
  },
  {
    name: '1 MiB of arguments (16 x 64 KiB) passes through to the service intact', args: (c) => ['--root', c.root, 'sh', '-c', 'n=0; for a; do n=$((n + ${#a})); done; echo "argbytes=$n"', 'sh', ...Array.from({ length: 16 }, (_, i) => String(i % 10).repeat(MIB / 16))], status: 0,
    check: (r) => expect(r.service.argbytes).toEqual([String(MIB)]),
  },
];

// ---------------------------------------------------------------------------------------------------
let tried = 0;
let skipped: string[] = [];
let works: string[] = [];

beforeAll(() => assertBuilt());
afterAll(() => {
  for (const w of works) rmSync(w, { recursive: true, force: true });
  console.log(`bad-input suite: ${tried + skipped.length} cases, ${tried} tried${skipped.length ? `, ${skipped.length} skipped (${skipped.join('; ')})` : ''}`);
});

function probesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => p.split('/').pop()!.startsWith(PROBE));
}

describe('bad input', () => {
  it('has at least 40 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  it.for(CASES.map((c) => [c.name, c] as const))('%s', ([, tc], ctx) => {
    if (tc.skip) {
      skipped.push(`${tc.name}: ${tc.skip}`);
      console.log(`bad-input: SKIPPED "${tc.name}": ${tc.skip}`);
      ctx.skip(tc.skip);
    }
    const work = tempRoot('me-bad-');
    works.push(work);
    chmodSync(work, 0o755);
    const c: Ctx = { work, root: join(work, 'app') };
    if (tc.mount) mkdirSync(c.root);
    if (tc.mount === 'ro') for (const d of ['models', '.cache']) mkdirSync(join(c.root, d));
    if (tc.layout === 'volumes') {
      mkdirSync(join(c.root, 'models/hub'), { recursive: true });
      mkdirSync(join(c.root, '.cache'), { recursive: true });
    }
    tc.setup?.(c);
    const args = tc.args(c);
    const env = { ...BASE_ENV, HF_TOKEN: SECRET, ...tc.env?.(c) };
    const before = snapshotTree(work);
    const r = runBinary(args, { env, wrap: tc.mount ? MOUNT_WRAP(tc.mount, c) : undefined });
    const after = snapshotTree(work);
    tried++;

    const detail = `${tc.name}\nstderr:\n${r.stderr.slice(0, 3000)}\nstdout:\n${r.stdout.slice(0, 1000)}`;
    expect(r.stderr, detail).not.toContain('mount-case: setup failed');
    expect(r.status, detail).toBe(tc.status);
    // Only JSON lines on stderr: no stack trace, no Node internal error text, no warnings of Node's.
    expect(r.strayStderr, detail).toEqual([]);
    expect(r.stderr).not.toMatch(/\n\s+at \S|node:internal|ExperimentalWarning|Error: /);
    expect(r.logs.filter((l: LogLine) => 'stack' in l || 'err' in l)).toEqual([]);
    expect(r.stderr).not.toContain(SECRET);
    expect(byEvent(r.logs, 'entrypoint.internal_error')).toEqual([]);

    const errors = errorsOf(r);
    if (tc.status !== 0) {
      expect(errors.map((l) => l.msg), detail).toHaveLength(1);
      expect(errors[0].msg).toContain(tc.names!(c));
      expect(errors[0].exit_code).toBe(tc.status);
      expect(typeof errors[0].hint === 'string' && errors[0].hint.length > 10, `a hint says what to do: ${detail}`).toBe(true);
      expect(byEvent(r.logs, 'entrypoint.exec')).toHaveLength(0);
      // Nothing changed, nothing left behind.
      expect(after).toEqual(before);
      if (tc.mount) {
        const snap = mountSnapshots(r.stdout);
        expect(snap.after).toEqual(snap.before);
      }
    } else {
      expect(errors, detail).toEqual([]);
      expect(byEvent(r.logs, 'entrypoint.exec')).toHaveLength(1);
      expect(probesUnder(work)).toEqual([]);
      if (tc.mount) {
        const snap = mountSnapshots(r.stdout);
        expect(snap.after.filter((l) => l.includes(PROBE))).toEqual([]);
        expect(snap.after).toEqual(snap.before);
      }
    }
    tc.check?.(r, c);
  });
});
