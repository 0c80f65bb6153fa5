// Read-only root filesystems and tmpfs-only setups (`docker run --read-only --tmpfs /tmp`, Kubernetes
// readOnlyRootFilesystem), for real, in a private mount namespace (`unshare --mount`) so the host's
// mounts are never touched:
//  - with the whole root filesystem remounted read-only, a writable volume and a scratch tmpfs, the
//    wrapper prepares the volume, starts the service, and writes nothing to the scratch tmpfs;
//  - under strace, every filesystem-changing system call the wrapper makes before exec names a path
//    inside the prepared directories (as root with a repair, as uid 1000, and for `check`);
//  - a read-only volume is reported as EROFS, "the filesystem is mounted read-only", with a read-only
//    remedy, never as a permission problem, whoever the wrapper runs as.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, BASE_ENV, BINARY, byEvent, runBinary, SERVICE, snapshotTree, tempRootsPerTest, type LogLine, type RunOptions, type RunResult } from '../helpers/binary.js';

const PROBE = '.model-entrypoint-probe';
const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--', 'true']).status === 0;
const mountSkip = canMount ? undefined : 'needs root and unshare --mount';
if (mountSkip) console.log(`readonly suite: mount-namespace tests SKIPPED: ${mountSkip}`);

function straceUnavailable(): string | undefined {
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true']);
  if (r.error) return `strace is not installed (${(r.error as NodeJS.ErrnoException).code})`;
  return r.status === 0 ? undefined : `strace cannot trace here (ptrace refused?): ${String(r.stderr).trim()}`;
}
const straceSkip = straceUnavailable();
if (straceSkip) console.log(`readonly suite: write-trace tests SKIPPED: ${straceSkip}`);

const newDir = tempRootsPerTest();

beforeAll(() => assertBuilt());

/**
 * Runs the binary (as a child, so the namespace can be inspected afterwards) inside a private mount
 * namespace after `setup` (shell). Whatever `after` (shell) prints follows a `@@after` line on stdout.
 */
function inMountNamespace(setup: string, after: string, args: string[], opts: RunOptions = {}): RunResult & { afterOutput: string } {
  const script = `${setup} || { echo "mount-setup failed" >&2; exit 111; }\n"$@"; rc=$?\necho @@after\n${after}\nexit $rc`;
  const r = runBinary(args, { ...opts, wrap: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'ro-ns', ...(opts.wrap ?? [])] });
  expect(r.stderr).not.toContain('mount-setup failed');
  const i = r.stdout.lastIndexOf('@@after\n');
  return { ...r, afterOutput: i >= 0 ? r.stdout.slice(i + '@@after\n'.length) : '' };
}

const listing = (dir: string) => `find "${dir}" -mindepth 1 -printf '%P\\n' | sort`;

describe.skipIf(mountSkip)('read-only root filesystem with a writable volume and a tmpfs', () => {
  it('prepares the volume, starts the service, writes nothing to the tmpfs (and nothing else is writable)', () => {
    const base = newDir('me-ro-');
    const volume = join(base, 'volume');
    const scratch = join(base, 'tmp');
    mkdirSync(volume);
    mkdirSync(scratch);
    const root = join(volume, 'app');
    const writeDirs = ['models', 'models/hub', '.cache', '.cache/suno/bark_v0', '.cache/torch'].map((d) => join(root, d));
    // Like `docker run --read-only --tmpfs /tmp -v volume:/app`: the volume is its own (rw) mount,
    // the scratch tmpfs is TMPDIR, and then the root filesystem itself becomes read-only.
    const setup = [
      `mount --bind "${volume}" "${volume}"`,
      `mount -t tmpfs -o mode=1777 tmpfs "${scratch}"`,
      'mount -o remount,bind,ro /',
      `! touch /.model-entrypoint-ro-check 2>/dev/null`,
    ].join(' && ');
    const r = inMountNamespace(setup, `echo "scratch:"; ${listing(scratch)}; echo "volume:"; ${listing(volume)}`, ['--root', root, '--preset', 'hf', '--preset', 'bark', '--preset', 'torch', '--', SERVICE], {
      env: { TMPDIR: scratch, PUID: '1000', PGID: '1000', SERVICE_WRITE_DIRS: writeDirs.join(':'), HOME: undefined },
    });
    expect(r.strayStderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.service.uid).toEqual(['1000']);
    expect(r.service.wrote?.sort()).toEqual([...writeDirs].sort());
    expect(byEvent(r.logs, 'dir.unwritable')).toEqual([]);
    expect(r.logs.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.event)).toEqual([]);
    const [scratchList, volumeList] = r.afterOutput.split('volume:\n');
    expect(scratchList.replace('scratch:\n', '').trim(), 'nothing written to the tmpfs').toBe('');
    // The volume holds exactly the prepared directories (the service removed its own files).
    expect(volumeList.trim().split('\n')).toEqual(['app', 'app/.cache', 'app/.cache/suno', 'app/.cache/suno/bark_v0', 'app/.cache/torch', 'app/models', 'app/models/hub']);
  });
});

// ---------------------------------------------------------------------------------------------------
/** System calls (strace's %file class and the fd-less *at forms) that change the filesystem. */
const CHANGING = new Set(['creat', 'mkdir', 'mkdirat', 'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'chown', 'lchown', 'fchownat', 'chmod', 'fchmodat', 'fchmodat2', 'truncate', 'utime', 'utimes', 'utimensat', 'futimesat', 'mknod', 'mknodat', 'setxattr', 'lsetxattr', 'removexattr', 'lremovexattr']);

interface Write {
  call: string;
  paths: string[];
  line: string;
}

/** Filesystem-changing calls in an `strace -f` log, up to the exec of the service. */
function writesBeforeServiceExec(log: string, binary: string): Write[] {
  const writes: Write[] = [];
  let seenBinary = false;
  for (const line of log.split('\n')) {
    const m = /^\d+\s+(?:<\.\.\. )?(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, call, rest] = m;
    if (call === 'execve') {
      if (seenBinary) break; // the service from here on: its writes are its own business
      if (rest.startsWith(`"${binary}"`)) seenBinary = true;
      continue;
    }
    if (!seenBinary) continue;
    const opensForWrite = (call === 'open' || call === 'openat') && /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(rest);
    if (!opensForWrite && !CHANGING.has(call)) continue;
    const paths = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((p) => p[1]);
    writes.push({ call, paths, line });
  }
  if (!seenBinary) throw new Error(`the trace never shows the exec of ${binary}:\n${log.slice(0, 2000)}`);
  return writes;
}

function traced(args: string[], opts: RunOptions & { traceDir: string }): { r: RunResult; writes: Write[] } {
  const out = join(opts.traceDir, 'strace.log');
  const r = runBinary(args, { ...opts, wrap: ['strace', '-f', '-qq', '-s', '4096', '-e', 'trace=%file', '-o', out, ...(opts.wrap ?? [])] });
  return { r, writes: writesBeforeServiceExec(readFileSync(out, 'utf8'), BINARY) };
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

describe.skipIf(straceSkip)('the wrapper writes nothing outside the prepared directories (strace)', () => {
  it('as root with PUID/PGID, creating directories and repairing a root-owned tree', () => {
    const traceDir = newDir('me-trace-');
    const volume = newDir('me-ro-vol-');
    const root = join(volume, 'app');
    mkdirSync(join(root, 'models/blobs'), { recursive: true });
    for (let i = 0; i < 50; i++) closeSync(openSync(join(root, 'models/blobs', `b${i}`), 'w'));
    const { r, writes } = traced(['--root', root, '--preset', 'hf', '--preset', 'bark', '--', SERVICE], { traceDir, env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'repair.done').length).toBeGreaterThan(0);
    const prepared = byEvent(r.logs, 'entrypoint.start')[0].directories as string[];
    // Missing parents of prepared directories (app/, .cache/suno) are created too: they are part of the path.
    const outside = writes.filter((w) => w.paths.length > 0 && !w.paths.every((p) => inside(p, root)));
    expect(outside.map((w) => w.line)).toEqual([]);
    expect(writes.length, 'the trace saw the preparation').toBeGreaterThan(50);
    for (const w of writes.filter((x) => x.call === 'openat')) {
      expect(prepared.some((d) => inside(w.paths[0], d)), w.line).toBe(true);
      expect(w.paths[0]).toContain(PROBE);
    }
    expect(snapshotTree(root).filter((l) => l.includes(PROBE))).toEqual([]);
  });

  it('as uid 1000 (setpriv) and for `check`', () => {
    const traceDir = newDir('me-trace-');
    const volume = newDir('me-ro-vol-');
    chownSync(volume, 1000, 1000);
    const root = join(volume, 'app');
    const asUser = traced(['--root', root, '--', SERVICE], { traceDir, asUser: { uid: 1000, gid: 1000 } });
    expect(asUser.r.status).toBe(0);
    expect(asUser.writes.filter((w) => w.paths.length > 0 && !w.paths.every((p) => inside(p, root))).map((w) => w.line)).toEqual([]);
    expect(asUser.writes.some((w) => w.call.startsWith('mkdir'))).toBe(true);

    const check = traced(['check', '--root', root, '--user', '1000:1000'], { traceDir });
    expect(check.r.status).toBe(0);
    expect(check.writes.length).toBeGreaterThan(0);
    // check creates and removes its probe files, and nothing else.
    for (const w of check.writes) {
      expect(['openat', 'unlink', 'unlinkat'], w.line).toContain(w.call);
      expect(w.paths.some((p) => p.includes(PROBE)), w.line).toBe(true);
      expect(w.paths.filter((p) => p.startsWith('/')).every((p) => inside(p, root)), w.line).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe.skipIf(mountSkip)('a read-only volume is reported as EROFS, not as a permission problem', () => {
  interface Who {
    name: string;
    args?: string[];
    env?: Record<string, string>;
    asUser?: { uid: number; gid: number };
    /** Owner of the volume's directories. */
    owner: [number, number];
  }
  const WHO: Who[] = [
    { name: 'root, no target user', owner: [0, 0] },
    { name: 'root with PUID/PGID=1000 over a root-owned volume (the repair meets EROFS too)', env: { PUID: '1000', PGID: '1000' }, owner: [0, 0] },
    { name: 'root with PUID/PGID=1000 over a volume 1000 already owns', env: { PUID: '1000', PGID: '1000' }, owner: [1000, 1000] },
    { name: 'uid 1000 (setpriv) over a root-owned 755 volume', asUser: { uid: 1000, gid: 1000 }, owner: [0, 0] },
  ];

  function roVolume(owner: [number, number]): string {
    const root = join(newDir('me-ro-'), 'app');
    for (const d of ['models/blobs', '.cache']) mkdirSync(join(root, d), { recursive: true });
    closeSync(openSync(join(root, 'models/blobs/weights.bin'), 'w'));
    for (const d of ['', 'models', 'models/blobs', 'models/blobs/weights.bin', '.cache']) chownSync(join(root, d), ...owner);
    return root;
  }
  const roSetup = (root: string) => `mount --bind "${root}" "${root}" && mount -o remount,bind,ro "${root}"`;

  function expectReadOnlyNotPermission(lines: LogLine[]) {
    for (const l of lines) {
      expect(l).toMatchObject({ error_code: 'EROFS', error_meaning: 'the filesystem is mounted read-only' });
      expect(String(l.msg)).toContain('read-only');
      expect(String(l.hint)).toMatch(/read-only|:ro/);
      expect(`${l.msg} ${l.hint}`).not.toMatch(/permission denied|EACCES|chown|PUID=/i);
    }
  }

  it.each(WHO.map((w) => [w.name, w] as const))('%s: the service starts, every problem line says read-only', (_n, who) => {
    const root = roVolume(who.owner);
    const before = snapshotTree(root);
    const r = inMountNamespace(roSetup(root), 'true', ['--root', root, ...(who.args ?? []), '--', 'true'], { env: who.env, asUser: who.asUser });
    expect(r.strayStderr).toEqual([]);
    expect(r.status).toBe(0);
    const unwritable = byEvent(r.logs, 'dir.unwritable');
    expect(unwritable.length).toBeGreaterThan(0);
    expect(unwritable.map((l) => l.path).sort()).toEqual([join(root, '.cache'), join(root, 'models'), join(root, 'models/hub')]);
    expectReadOnlyNotPermission(unwritable);
    // Whatever else warned (a repair that could not chown) says read-only too.
    const others = r.logs.filter((l) => l.level === 'warn' && l.event !== 'dir.unwritable' && l.event !== 'repair.done');
    expect(others.length).toBe(who.owner[0] === 0 && who.env?.PUID ? 2 : 0);
    expectReadOnlyNotPermission(others);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('with --strict: 125 and one error line whose fix is about the read-only mount', () => {
    const root = roVolume([1000, 1000]);
    const r = inMountNamespace(roSetup(root), 'true', ['--strict', '--root', root, '--', 'true'], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(125);
    const errors = r.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toContain(join(root, 'models'));
    expect(String(errors[0].hint)).toMatch(/read-only/);
  });

  it('check on a read-only volume: unhealthy with EROFS, the meaning, and a read-only fix', () => {
    const root = roVolume([1000, 1000]);
    mkdirSync(join(root, 'models/hub'));
    chownSync(join(root, 'models/hub'), 1000, 1000);
    const r = inMountNamespace(roSetup(root), 'true', ['check', '--root', root, '--format', 'json'], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('@@after')));
    for (const d of doc.directories) {
      expect(d).toMatchObject({ writable: false, error_code: 'EROFS', error_meaning: 'the filesystem is mounted read-only', user_id: 1000 });
      expect(d.hint).toMatch(/read-only/);
    }
    expect(r.logs.filter((l) => l.level === 'error').map((l) => l.error_codes)).toEqual([['EROFS', 'EROFS', 'EROFS']]);
  });

  it('control: the same volume mounted read-write is ready (the EROFS above is the mount, not the tree)', () => {
    const root = roVolume([1000, 1000]);
    const r = runBinary(['--root', root, '--', 'true'], { env: { ...BASE_ENV, PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'dir.unwritable')).toEqual([]);
    expect(byEvent(r.logs, 'dir.ready')).toHaveLength(3);
  });
});
