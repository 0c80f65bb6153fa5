// Refusal of system locations: repairing `/`, `/usr` or `/etc` to a service user would hand it the
// machine, so these are refused whatever path (symlink, `..`) leads there.
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { usageError } from '../errors.js';

/** Top-level directories that belong to the operating system. `lib*` is matched as a prefix. */
const SYSTEM_TOP_DIRS = new Set(['bin', 'boot', 'dev', 'etc', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'var']);

/**
 * Shared top-level directories: their subdirectories are fine (/tmp/cache, /home/app/.cache, /opt/models),
 * but the directory itself holds other users' files (XDG_CACHE_HOME=/tmp would re-own all of /tmp).
 */
const SHARED_TOP_DIRS = new Set(['tmp', 'home', 'opt', 'srv', 'mnt', 'media']);

/** Pure: is this realpath'd absolute path a refused system location? */
export function isSystemPath(resolved: string): boolean {
  // A path that is not absolute cannot be judged here: refuse rather than guess.
  if (!resolved.startsWith('/')) return true;
  const parts = posix.normalize(resolved).split('/').filter((part) => part !== '');
  const first = parts[0];
  if (first === undefined) return true; // `/` itself
  if (parts.length === 1 && SHARED_TOP_DIRS.has(first)) return true;
  return SYSTEM_TOP_DIRS.has(first) || first.startsWith('lib');
}

/**
 * The physical location of `path`: realpath of its deepest existing ancestor, with the missing rest
 * appended and normalized (a `..` in the missing rest can only go back up lexically).
 */
export function physicalPath(path: string): string {
  let existing = resolve(path);
  const missing: string[] = [];
  // Walk up the *given* spelling, not the normalized one, so `link/..` is resolved by the kernel.
  let probe = isAbsolute(path) ? path : join(process.cwd(), path);
  for (;;) {
    try {
      existing = realpathSync.native(probe); // the JS realpath resolves `..` lexically first
      break;
    } catch {
      const parent = dirname(probe);
      if (parent === probe) {
        existing = '/';
        break;
      }
      missing.unshift(probe.slice(parent.length).replace(/^\/+/, ''));
      probe = parent;
    }
  }
  return posix.normalize(posix.join(existing, ...missing));
}

/**
 * Throws EntrypointError(125) if `path` is `/` or a system directory, by its spelling or by where it
 * really leads (symlinks and `..` resolved).
 */
export function assertRepairable(path: string): void {
  const spelled = resolve(path);
  const physical = physicalPath(path);
  if (!isSystemPath(spelled) && !isSystemPath(physical)) return;
  const via = physical === spelled ? '' : ` (which resolves to ${physical})`;
  throw usageError(
    `refusing to change ownership of ${path}${via}: it is / or a system directory`,
    'Point the model and cache directories at a dedicated path (for example /app/models or a mounted ' +
      'volume), or turn ownership repair off with --repair never.',
    { path, resolved: physical },
  );
}
