// The synchronous per-directory work of the ownership repair, shared by the main thread and the
// worker threads. `createWalker` must stay self-contained (no imports, no module-level names): the
// workers get it as source text through Function.prototype.toString.
//
// Paths are latin1 strings: one char per byte, so names with invalid UTF-8 survive untouched and
// string concatenation stays cheap. A path made only of ASCII is passed to fs as is (its UTF-8 bytes
// are the same); any other path is turned back into its exact bytes with Buffer.from(p, 'latin1').

/** A piece of work: a directory to list, or (for a huge directory) a slice of its names. */
export interface WorkUnit {
  dir: string;
  ascii: boolean;
  names?: string[];
}

export interface WalkerConfig {
  uid: number;
  gid: number;
  dev: number;
  /** Names per unit when a directory is split so that other walkers can take a share of it. */
  chunk: number;
  maxErrorSamples: number;
  maxSkippedMounts: number;
  slots: typeof CTL;
}

/** What one walker found, merged by the coordinator. Counters also go to the shared `ctl` array. */
export interface WalkerReport {
  errorCodes: Record<string, number>;
  errorSamples: { path: string; code: string }[];
  skippedMounts: string[];
}

/** Slots of the shared Int32Array that coordinates the walkers. */
export const CTL = {
  ABORT: 0,
  SCANNED: 1,
  CHANGED: 2,
  ERRORS: 3,
  /** How many walkers are waiting for a busy worker to donate part of its stack. */
  WANT_WORK: 4,
  /** Bumped by a worker after each message it posts; the main thread waits on it. */
  PENDING: 5,
  /** First of the per-worker state slots (BUSY / IDLE). */
  WORKER_STATE: 6,
} as const;

export const MAX_ERROR_SAMPLES = 5;
/** Same cap for mount points: a tree with thousands of them is reported by count in the caller. */
export const MAX_SKIPPED_MOUNTS = 100;

export type FsModule = typeof import('node:fs');

export interface Walker {
  /** Examines and fixes one path (the top); returns true if it is a directory to descend. */
  visitPath(p: string): boolean;
  /** Processes one unit; new units (subdirectories, slices) are pushed onto `stack`. */
  processUnit(unit: WorkUnit, stack: WorkUnit[]): void;
  /** Returns and clears what was collected since the last call. */
  takeReport(): WalkerReport;
}

export function createWalker(fs: FsModule, config: WalkerConfig, ctl: Int32Array): Walker {
  const { uid, gid, dev, chunk, maxErrorSamples, maxSkippedMounts } = config;
  const { ABORT, SCANNED, CHANGED, ERRORS } = config.slots;
  const NON_ASCII = /[^\x00-\x7f]/;
  const DIR_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
  let report: WalkerReport = { errorCodes: {}, errorSamples: [], skippedMounts: [] };

  function display(p: string): string {
    return Buffer.from(p, 'latin1').toString('utf8');
  }

  function fail(p: string, err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    const name = typeof code === 'string' ? code : 'EUNKNOWN';
    report.errorCodes[name] = (report.errorCodes[name] ?? 0) + 1;
    if (report.errorSamples.length < maxErrorSamples) report.errorSamples.push({ path: display(p), code: name });
    Atomics.add(ctl, ERRORS, 1);
  }

  /** Adds the owner's rwx to a directory, through an fd opened without following a swapped-in symlink. */
  function addOwnerBits(arg: string | Buffer, mode: number): void {
    const fd = fs.openSync(arg, DIR_OPEN_FLAGS);
    try {
      fs.fchmodSync(fd, (mode & 0o7777) | 0o700);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Examines and fixes one entry; returns true if it is a directory of our filesystem to descend. */
  function visit(p: string, arg: string | Buffer): boolean {
    let st;
    try {
      st = fs.lstatSync(arg, { throwIfNoEntry: false });
    } catch (err) {
      fail(p, err);
      return false;
    }
    if (st === undefined) {
      // Gone since the directory was listed (or a parent was replaced): a concurrent delete.
      fail(p, { code: 'ENOENT' });
      return false;
    }
    if (st.dev !== dev) {
      // Another filesystem mounted (or bind-mounted) here: neither changed nor entered.
      if (report.skippedMounts.length < maxSkippedMounts) report.skippedMounts.push(display(p));
      return false;
    }
    Atomics.add(ctl, SCANNED, 1);
    let changed = false;
    if (st.uid !== uid || st.gid !== gid) {
      try {
        fs.lchownSync(arg, uid, gid);
        changed = true;
      } catch (err) {
        fail(p, err);
        return st.isDirectory(); // still descend: some entries below may be fixable
      }
    }
    const isDir = st.isDirectory();
    if (isDir && (st.mode & 0o700) !== 0o700) {
      try {
        addOwnerBits(arg, st.mode);
        changed = true;
      } catch (err) {
        fail(p, err);
      }
    }
    if (changed) Atomics.add(ctl, CHANGED, 1);
    return isDir;
  }

  function processUnit(unit: WorkUnit, stack: WorkUnit[]): void {
    const { dir, ascii } = unit;
    let names = unit.names;
    if (names === undefined) {
      try {
        names = fs.readdirSync(ascii ? dir : Buffer.from(dir, 'latin1'), { encoding: 'latin1' }) as string[];
      } catch (err) {
        fail(dir, err);
        return;
      }
      if (names.length > chunk) {
        // Leave the rest as slices on the stack: an idle walker can take them.
        for (let from = chunk; from < names.length; from += chunk) {
          stack.push({ dir, ascii, names: names.slice(from, from + chunk) });
        }
        names = names.slice(0, chunk);
      }
    }
    // One test per directory instead of one per name: almost all names are ASCII.
    const allAscii = ascii && !NON_ASCII.test(names.join(''));
    for (const name of names) {
      if (Atomics.load(ctl, ABORT) !== 0) return;
      const p = dir + '/' + name;
      const nameAscii = allAscii || (ascii && !NON_ASCII.test(name));
      const arg = nameAscii ? p : Buffer.from(p, 'latin1');
      if (visit(p, arg)) stack.push({ dir: p, ascii: nameAscii });
    }
  }

  function takeReport(): WalkerReport {
    const taken = report;
    report = { errorCodes: {}, errorSamples: [], skippedMounts: [] };
    return taken;
  }

  function visitPath(p: string): boolean {
    return visit(p, NON_ASCII.test(p) ? Buffer.from(p, 'latin1') : p);
  }

  return { visitPath, processUnit, takeReport };
}
