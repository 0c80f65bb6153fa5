// Read-only observation of the filesystem: what exists at each directory path. No writes, ever.
import { posix } from 'node:path';
import { errnoCode } from './errors.js';

export interface Owner {
  uid: number;
  gid: number;
  /** Permission bits only (e.g. 0o755). */
  mode: number;
}

export interface ExistingDir extends Owner {
  path: string;
  dev: number;
}

export type DirState =
  | 'directory'
  | 'missing'
  | 'not-directory'
  | 'dangling-symlink'
  | 'symlink-loop'
  | 'unreadable';

export interface DirFacts {
  path: string;
  state: DirState;
  /** The directory itself (state directory), following a symlink at `path` if there is one. */
  dir?: ExistingDir;
  /** `path` is a symlink (to a directory when state is directory). */
  symlink?: boolean;
  /** For directory: the physical path (differs from `path` when any component is a symlink). */
  resolved?: string;
  /**
   * The existing directories above it, nearest first, up to `/` (asked for with `ancestors`): the
   * service user needs search (x) permission on each of them to reach the directory at all.
   */
  ancestors?: ExistingDir[];
  /** For missing: components to create, parents first. */
  missing?: string[];
  /** For missing: the deepest existing ancestor (it decides who can create the rest). */
  ancestor?: ExistingDir;
  /** For not-directory: the path that is a file (may be an ancestor). */
  blocker?: string;
  error_code?: string;
  /** Free bytes for an unprivileged user on the filesystem of the directory (or its ancestor). */
  free_bytes?: number;
}

/** The subset of node:fs the observer uses; memfs provides the same (statfs is optional there). */
export interface ObserveFs {
  lstatSync(path: string): { isSymbolicLink(): boolean; isDirectory(): boolean; uid: number; gid: number; mode: number; dev: number };
  statSync(path: string): { isDirectory(): boolean; uid: number; gid: number; mode: number; dev: number };
  statfsSync?(path: string): { bavail: number | bigint; bsize: number | bigint };
  realpathSync?: { native?(path: string): string } & ((path: string) => string);
}

function physical(fs: ObserveFs, path: string): string | undefined {
  try {
    return fs.realpathSync?.native ? fs.realpathSync.native(path) : fs.realpathSync?.(path);
  } catch {
    return undefined;
  }
}

function toDir(path: string, st: { uid: number; gid: number; mode: number; dev: number }): ExistingDir {
  return { path, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, dev: st.dev };
}

export function freeBytes(fs: ObserveFs, path: string): number | undefined {
  if (!fs.statfsSync) return undefined;
  try {
    const s = fs.statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/** `start` and every directory above it, stat'ed (following symlinks), nearest first. */
export function ancestorsFrom(fs: ObserveFs, start: string): ExistingDir[] {
  const out: ExistingDir[] = [];
  for (let dir = start; ; dir = posix.dirname(dir)) {
    try {
      out.push(toDir(dir, fs.statSync(dir)));
    } catch {
      break;
    }
    if (dir === '/' || dir === '.') break;
  }
  return out;
}

export function observeDir(fs: ObserveFs, path: string, opts: { ancestors?: boolean } = {}): DirFacts {
  const facts = observePath(fs, path);
  if (opts.ancestors && (facts.state === 'directory' || facts.state === 'unreadable') && path !== '/') facts.ancestors = ancestorsFrom(fs, posix.dirname(path));
  if (opts.ancestors && facts.state === 'missing' && facts.ancestor) facts.ancestors = ancestorsFrom(fs, facts.ancestor.path);
  return facts;
}

function observePath(fs: ObserveFs, path: string): DirFacts {
  let link: ReturnType<ObserveFs['lstatSync']>;
  try {
    link = fs.lstatSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return observeMissing(fs, path);
    if (code === 'ELOOP') return { path, state: 'symlink-loop', error_code: code };
    return { path, state: 'unreadable', error_code: code };
  }
  if (link.isSymbolicLink()) {
    try {
      const target = fs.statSync(path);
      if (!target.isDirectory()) return { path, state: 'not-directory', symlink: true, blocker: path };
      return { path, state: 'directory', symlink: true, resolved: physical(fs, path), dir: toDir(path, target), free_bytes: freeBytes(fs, path) };
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return { path, state: 'dangling-symlink', symlink: true, error_code: code };
      if (code === 'ELOOP') return { path, state: 'symlink-loop', symlink: true, error_code: code };
      return { path, state: 'unreadable', symlink: true, error_code: code };
    }
  }
  if (!link.isDirectory()) return { path, state: 'not-directory', blocker: path };
  return { path, state: 'directory', resolved: physical(fs, path), dir: toDir(path, link), free_bytes: freeBytes(fs, path) };
}

/** Walks up from a missing path to the deepest existing ancestor. */
function observeMissing(fs: ObserveFs, path: string): DirFacts {
  const missing: string[] = [path];
  let current = posix.dirname(path);
  for (;;) {
    try {
      const st = fs.statSync(current);
      if (!st.isDirectory()) return { path, state: 'not-directory', blocker: current };
      return { path, state: 'missing', missing: missing.reverse(), ancestor: toDir(current, st), free_bytes: freeBytes(fs, current) };
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        // A dangling symlink in the middle of the path: mkdir would fail with EEXIST/ENOENT.
        try {
          if (fs.lstatSync(current).isSymbolicLink()) return { path, state: 'dangling-symlink', blocker: current, error_code: 'ENOENT' };
        } catch { /* really missing */ }
        missing.push(current);
        current = posix.dirname(current);
        continue;
      }
      if (code === 'ENOTDIR') {
        missing.push(current);
        current = posix.dirname(current);
        continue;
      }
      if (code === 'ELOOP') return { path, state: 'symlink-loop', blocker: current, error_code: code };
      return { path, state: 'unreadable', blocker: current, error_code: code };
    }
  }
}

export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * Unix permission check from mode bits: does `who` have all of `want` (r=4, w=2, x=1) on `o`?
 * Root passes every check except executing a file that has no x bit at all.
 */
export function hasPermission(who: Identity, o: Owner, want: number, isDirectory = true): boolean {
  if (who.uid === 0) return isDirectory || (want & 1) === 0 || (o.mode & 0o111) !== 0;
  const bits = who.uid === o.uid ? (o.mode >> 6) & 7 : who.gid === o.gid || who.groups.includes(o.gid) ? (o.mode >> 3) & 7 : o.mode & 7;
  return (bits & want) === want;
}
