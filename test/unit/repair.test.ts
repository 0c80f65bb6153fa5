// Unit tests of the repair engine's pure parts: the system-path refusal and the per-directory walker
// (driven through a scripted fake fs, so errors, mounts and huge directories are exact).
import { constants, mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { assertRepairable, defaultConcurrency, isSystemPath } from '../../src/repair/index.js';
import { physicalPath } from '../../src/repair/system-paths.js';
import { CTL, createWalker, type FsModule, type WalkerConfig, type WorkUnit } from '../../src/repair/walker.js';

describe('isSystemPath', () => {
  it.each([
    '/', '/bin', '/boot/efi', '/dev', '/etc', '/etc/', '/lib', '/lib64', '/lib32/x', '/libx32', '/proc/1',
    '/root', '/root/.cache/huggingface', '/run/secrets', '/sbin', '/sys', '/usr', '/usr/local/share/models',
    '/var', '/var/lib/models', '//etc', '/./usr', '/tmp/../etc', 'relative/path', '',
    '/tmp', '/tmp/', '/home', '/opt', '/srv', '/mnt', '/media',
  ])('refuses %j', (path) => {
    expect(isSystemPath(path)).toBe(true);
  });

  it.each(['/app/models', '/app/.cache', '/data', '/home/user/models', '/tmp/x', '/mnt/nfs', '/opt/etc', '/srv/usr', '/binaries', '/variable'])(
    'allows %j',
    (path) => {
      expect(isSystemPath(path)).toBe(false);
    },
  );

  it('refuses anything whose first component is a system directory, whatever follows', () => {
    const systemTop = fc.constantFrom('bin', 'boot', 'dev', 'etc', 'lib', 'lib64', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'var');
    const segment = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/).filter((s) => s !== '..' && s !== '.');
    fc.assert(fc.property(systemTop, fc.array(segment, { maxLength: 5 }), (top, rest) => isSystemPath(`/${[top, ...rest].join('/')}`)));
  });
});

describe('assertRepairable and physicalPath (symlinks and `..` resolved)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repair-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync('/usr/share', join(dir, 'share-link'));
  symlinkSync('/etc', join(dir, 'etc-link'));
  mkdirSync(join(dir, 'models'));

  it('resolves a symlink and a `..` after it physically, as the kernel does', () => {
    expect(physicalPath(join(dir, 'share-link'))).toBe('/usr/share');
    expect(physicalPath(`${dir}/share-link/..`)).toBe('/usr');
  });

  it('resolves a missing tail from the deepest existing ancestor', () => {
    expect(physicalPath(`${dir}/etc-link/not/yet`)).toBe('/etc/not/yet');
    expect(physicalPath(`${dir}/missing/../../../etc`)).toBe('/etc');
    expect(physicalPath(`${dir}/models/new`)).toBe(`${dir}/models/new`);
  });

  it('throws exit 125 naming the path and where it leads', () => {
    let thrown: unknown;
    try {
      assertRepairable(`${dir}/share-link/..`);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ exitCode: 125, message: expect.stringContaining('which resolves to /usr'), hint: expect.stringContaining('--repair never') });
    expect(() => assertRepairable(join(dir, 'etc-link', 'sub'))).toThrow(/refusing to change ownership/);
    expect(() => assertRepairable('/usr/../etc')).toThrow(/system directory/);
  });

  it('accepts ordinary directories, existing or not', () => {
    expect(() => assertRepairable(join(dir, 'models'))).not.toThrow();
    expect(() => assertRepairable(join(dir, 'models', 'later'))).not.toThrow();
  });
});

describe('defaultConcurrency', () => {
  it('uses the CPUs other processes leave free, at least 1 and at most 4', () => {
    expect(defaultConcurrency(2, 0.1)).toBe(2);
    expect(defaultConcurrency(2, 1.0)).toBe(1);
    expect(defaultConcurrency(2, 3.4)).toBe(1);
    expect(defaultConcurrency(16, 2)).toBe(4);
    expect(defaultConcurrency(1, 0)).toBe(1);
  });
});

// --- the walker on a scripted filesystem ------------------------------------------------------

interface FakeEntry {
  type: 'dir' | 'file' | 'link';
  uid: number;
  gid: number;
  mode: number;
  dev?: number;
  /** errno thrown by lchown (EPERM, EROFS...) */
  chownError?: string;
  /** gone between readdir and lstat */
  vanished?: boolean;
}

function errno(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** A tiny in-memory fs with the calls the walker makes; paths are the strings or Buffers it is given. */
function fakeFs(entries: Record<string, FakeEntry>) {
  const calls: string[] = [];
  const key = (p: string | Buffer): string => (typeof p === 'string' ? p : p.toString('latin1'));
  const fds = new Map<number, string>();
  const fs = {
    constants,
    readdirSync(dir: string | Buffer) {
      const prefix = `${key(dir)}/`;
      return Object.keys(entries)
        .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
        .map((p) => p.slice(prefix.length));
    },
    lstatSync(p: string | Buffer) {
      const e = entries[key(p)];
      if (e === undefined || e.vanished) return undefined;
      const size = e.type === 'dir' ? 4096 * (1 + Math.floor(fs.readdirSync(p).length / 100)) : 0;
      return { uid: e.uid, gid: e.gid, mode: e.mode, size, dev: e.dev ?? 1, isDirectory: () => e.type === 'dir' };
    },
    lchownSync(p: string | Buffer, uid: number, gid: number) {
      const e = entries[key(p)] as FakeEntry;
      calls.push(`lchown ${key(p)}`);
      if (e.chownError) throw errno(e.chownError);
      e.uid = uid;
      e.gid = gid;
    },
    opendirSync(p: string | Buffer) {
      calls.push(`opendir ${key(p)}`);
      const names = fs.readdirSync(p);
      return {
        readSync: () => {
          const name = names.shift();
          return name === undefined ? null : { name };
        },
        closeSync: () => calls.push(`closedir ${key(p)}`),
      };
    },
    openSync(p: string | Buffer, flags: number) {
      calls.push(`open ${key(p)} nofollow=${(flags & constants.O_NOFOLLOW) !== 0}`);
      fds.set(3, key(p));
      return 3;
    },
    fchmodSync(fd: number, mode: number) {
      (entries[fds.get(fd) as string] as FakeEntry).mode = mode;
    },
    closeSync(fd: number) {
      fds.delete(fd);
    },
  };
  return { fs: fs as unknown as FsModule, calls };
}

const config = (over: Partial<WalkerConfig> = {}): WalkerConfig => ({
  uid: 1000, gid: 1000, dev: 1, chunk: 512, bigDirBytes: 1 << 20, maxErrorSamples: 5, maxSkippedMounts: 100, slots: CTL, ...over,
});

function walkAll(fs: FsModule, cfg: WalkerConfig, top = '/t') {
  const ctl = new Int32Array(new SharedArrayBuffer(64));
  const walker = createWalker(fs, cfg, ctl);
  const stack: WorkUnit[] = [];
  const topUnit = walker.visitPath(top);
  if (topUnit) stack.push(topUnit);
  let units = 0;
  for (;;) {
    walker.continueListing(stack);
    const unit = stack.pop();
    if (unit === undefined) break;
    walker.processUnit(unit, stack);
    units++;
  }
  return { scanned: ctl[CTL.SCANNED], changed: ctl[CTL.CHANGED], errors: ctl[CTL.ERRORS], report: walker.takeReport(), units };
}

const dir = (uid = 0, mode = 0o40755): FakeEntry => ({ type: 'dir', uid, gid: uid, mode });
const file = (uid = 0, extra: Partial<FakeEntry> = {}): FakeEntry => ({ type: 'file', uid, gid: uid, mode: 0o100644, ...extra });

describe('createWalker', () => {
  it('counts errors by code, samples only the first five, and keeps walking', () => {
    const entries: Record<string, FakeEntry> = { '/t': dir(1000) };
    for (let i = 0; i < 8; i++) entries[`/t/nfs${i}`] = file(0, { chownError: 'EPERM' });
    entries['/t/ro'] = file(0, { chownError: 'EROFS' });
    entries['/t/ok'] = file(0);
    const { fs } = fakeFs(entries);
    const r = walkAll(fs, config());
    expect(r.report.errorCodes).toEqual({ EPERM: 8, EROFS: 1 });
    expect(r.errors).toBe(9);
    expect(r.report.errorSamples).toHaveLength(5);
    expect(r.report.errorSamples[0]).toEqual({ path: '/t/nfs0', code: 'EPERM' });
    expect(entries['/t/ok']?.uid).toBe(1000);
    expect(r.changed).toBe(1);
  });

  it('counts an entry gone between readdir and lstat as ENOENT', () => {
    const { fs } = fakeFs({ '/t': dir(1000), '/t/gone': file(0, { vanished: true }), '/t/here': file(0) });
    const r = walkAll(fs, config());
    expect(r.report.errorCodes).toEqual({ ENOENT: 1 });
    expect(r.scanned).toBe(2);
  });

  it('skips and reports entries of another filesystem without touching or entering them', () => {
    const entries = { '/t': dir(0), '/t/mnt': { ...dir(0), dev: 2 }, '/t/mnt/inner': { ...file(0), dev: 2 }, '/t/bound-file': { ...file(0), dev: 3 } };
    const { fs, calls } = fakeFs(entries);
    const r = walkAll(fs, config());
    expect(r.report.skippedMounts.sort()).toEqual(['/t/bound-file', '/t/mnt']);
    expect(calls).toEqual(['lchown /t']);
    expect(r.scanned).toBe(1);
  });

  it('leaves right entries alone (no syscall that writes)', () => {
    const { fs, calls } = fakeFs({ '/t': dir(1000), '/t/a': file(1000), '/t/d': dir(1000), '/t/d/b': file(1000) });
    const r = walkAll(fs, config());
    expect(calls).toEqual([]);
    expect(r).toMatchObject({ scanned: 4, changed: 0, errors: 0 });
  });

  it('adds u+rwx through an fd opened with O_NOFOLLOW, keeping special and group/other bits', () => {
    const entries = { '/t': dir(1000), '/t/closed': dir(1000, 0o42055) };
    const { fs, calls } = fakeFs(entries);
    const r = walkAll(fs, config());
    expect(entries['/t/closed'].mode & 0o7777).toBe(0o2755);
    expect(calls).toEqual(['open /t/closed nofollow=true']);
    expect(r.changed).toBe(1);
  });

  it('splits a huge directory into units of `chunk` names', () => {
    const entries: Record<string, FakeEntry> = { '/t': dir(1000) };
    for (let i = 0; i < 1000; i++) entries[`/t/f${i}`] = file(0);
    const { fs } = fakeFs(entries);
    const r = walkAll(fs, config({ chunk: 100 }));
    expect(r.units).toBe(10);
    expect(r.scanned).toBe(1001);
    expect(r.changed).toBe(1000);
  });

  it('lists a big directory in slices through opendir, and closes it', () => {
    const entries: Record<string, FakeEntry> = { '/t': dir(1000), '/t/big': dir(1000) };
    for (let i = 0; i < 1050; i++) entries[`/t/big/f${i}`] = file(0);
    const { fs, calls } = fakeFs(entries);
    const r = walkAll(fs, config({ chunk: 100, bigDirBytes: 20_000 }));
    expect(calls.filter((c) => !c.startsWith('lchown'))).toEqual(['opendir /t/big', 'closedir /t/big']);
    expect(r.units).toBe(1 + 1 + 11); // top, the opening of big, its 11 slices
    expect(r).toMatchObject({ scanned: 1052, changed: 1050, errors: 0 });
  });

  it('passes non-ASCII names to fs as their exact bytes', () => {
    const name = 'caf\xe9\xff'; // latin1 form of the bytes 63 61 66 e9 ff
    const entries = { '/t': dir(1000), [`/t/${name}`]: file(0) };
    const seen: unknown[] = [];
    const { fs } = fakeFs(entries);
    const spying = { ...fs, lstatSync: (p: string | Buffer) => (seen.push(p), fs.lstatSync(p)) } as unknown as FsModule;
    walkAll(spying, config());
    expect(seen[1]).toEqual(Buffer.from(`/t/${name}`, 'latin1'));
  });
});
