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
  /** Listed in steps instead of in one call (see WalkerConfig.bigDirBytes). */
  big?: boolean;
}

export interface WalkerConfig {
  uid: number;
  gid: number;
  dev: number;
  /** Names per unit when a directory is split so that other walkers can take a share of it. */
  chunk: number;
  /**
   * A directory whose st_size exceeds this (about 10k names on ext4, tmpfs and btrfs) is listed
   * `chunk` names at a time with opendir, so that listing a million names neither blocks an abort
   * nor keeps the other walkers idle. Smaller ones are read in one readdir call (faster).
   */
  bigDirBytes: number;
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
  /** Examines and fixes one path (the top); returns the unit to walk it if it is a directory. */
  visitPath(p: string): WorkUnit | undefined;
  /** Processes one unit; new units (subdirectories, slices) are pushed onto `stack`. */
  processUnit(unit: WorkUnit, stack: WorkUnit[]): void;
  /**
   * Reads the next slice of names of the big directory this walker is listing onto `stack`.
   * Returns false when it is listing none. Listings stay with their walker (a Dir cannot move).
   */
  continueListing(stack: WorkUnit[]): boolean;
  /** Closes the directories still being listed (after an abort). */
  closeListings(): void;
  /** Returns and clears what was collected since the last call. */
  takeReport(): WalkerReport;
}

export function createWalker(fs: FsModule, config: WalkerConfig, ctl: Int32Array): Walker {
  const { uid, gid, dev, chunk, bigDirBytes, maxErrorSamples, maxSkippedMounts } = config;
  const { ABORT, SCANNED, CHANGED, ERRORS } = config.slots;
  const NON_ASCII = /[^\x00-\x7f]/;
  const DIR_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
  let report: WalkerReport = { errorCodes: {}, errorSamples: [], skippedMounts: [] };
  const listings: { dir: string; ascii: boolean; handle: import('node:fs').Dir }[] = [];

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

  /** Examines and fixes one entry; returns the size of a directory of our filesystem to descend, else -1. */
  function visit(p: string, arg: string | Buffer): number {
    let st;
    try {
      st = fs.lstatSync(arg, { throwIfNoEntry: false });
    } catch (err) {
      fail(p, err);
      return -1;
    }
    if (st === undefined) {
      // Gone since the directory was listed (or a parent was replaced): a concurrent delete.
      fail(p, { code: 'ENOENT' });
      return -1;
    }
    if (st.dev !== dev) {
      // Another filesystem mounted (or bind-mounted) here: neither changed nor entered.
      if (report.skippedMounts.length < maxSkippedMounts) report.skippedMounts.push(display(p));
      return -1;
    }
    Atomics.add(ctl, SCANNED, 1);
    let changed = false;
    if (st.uid !== uid || st.gid !== gid) {
      try {
        fs.lchownSync(arg, uid, gid);
        changed = true;
      } catch (err) {
        fail(p, err);
        return st.isDirectory() ? st.size : -1; // still descend: some entries below may be fixable
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
    return isDir ? st.size : -1;
  }

  function continueListing(stack: WorkUnit[]): boolean {
    for (let listing = listings.at(-1); listing !== undefined; listing = listings.at(-1)) {
      const names: string[] = [];
      try {
        for (let entry = listing.handle.readSync(); entry !== null; entry = listing.handle.readSync()) {
          if (names.push(entry.name) >= chunk) break;
        }
      } catch (err) {
        fail(listing.dir, err);
        names.length = 0;
      }
      if (names.length < chunk) {
        listings.pop();
        try {
          listing.handle.closeSync();
        } catch {
          // Already closed by a failed read.
        }
      }
      if (names.length > 0) {
        stack.push({ dir: listing.dir, ascii: listing.ascii, names });
        return true;
      }
    }
    return false;
  }

  function closeListings(): void {
    for (const listing of listings.splice(0)) {
      try {
        listing.handle.closeSync();
      } catch {
        // Nothing more to do with it.
      }
    }
  }

  function processUnit(unit: WorkUnit, stack: WorkUnit[]): void {
    const { dir, ascii } = unit;
    let names = unit.names;
    if (names === undefined && unit.big) {
      try {
        const handle = fs.opendirSync(ascii ? dir : Buffer.from(dir, 'latin1'), { encoding: 'latin1', bufferSize: 1024 });
        listings.push({ dir, ascii, handle });
      } catch (err) {
        fail(dir, err);
      }
      return; // its names come through continueListing
    }
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
      const dirSize = visit(p, arg);
      if (dirSize >= 0) stack.push(dirSize > bigDirBytes ? { dir: p, ascii: nameAscii, big: true } : { dir: p, ascii: nameAscii });
    }
  }

  function takeReport(): WalkerReport {
    const taken = report;
    report = { errorCodes: {}, errorSamples: [], skippedMounts: [] };
    return taken;
  }

  function visitPath(p: string): WorkUnit | undefined {
    const ascii = !NON_ASCII.test(p);
    const dirSize = visit(p, ascii ? p : Buffer.from(p, 'latin1'));
    return dirSize < 0 ? undefined : { dir: p, ascii, big: dirSize > bigDirBytes };
  }

  return { visitPath, processUnit, continueListing, closeListings, takeReport };
}
