// Ownership repair engine: walks a tree and gives every entry whose uid or gid differs to the target
// user, without following symlinks or entering other filesystems. It never logs: the caller turns
// onProgress and the result into `repair.progress` / `repair.done` events.
//
// Design (measured, see BENCHMARKS.md "Ownership repair"): per-entry async fs calls through the libuv
// thread pool cost 4-10x more than the syscalls themselves, so the walk is synchronous: the main
// thread works in slices of a few milliseconds (yielding to the event loop so that an abort, a signal
// or a progress timer is handled at once) and, for trees that take longer than one slice, worker
// threads walk other parts of the tree with the same synchronous code.
import * as fs from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { receiveMessageOnPort } from 'node:worker_threads';
import { assertRepairable } from './system-paths.js';
import { CTL, MAX_ERROR_SAMPLES, MAX_SKIPPED_MOUNTS, createWalker, type WalkerConfig, type WalkerReport, type WorkUnit } from './walker.js';
import { WORKER, giveWork, startWorker, type FromWorker, type WalkerThread } from './workers.js';

export { assertRepairable, isSystemPath } from './system-paths.js';

export interface RepairProgress {
  path: string;
  scanned: number;
  changed: number;
  rate_per_s: number;
  elapsed_ms: number;
}

export interface RepairResult {
  path: string;
  /** Entries examined on the tree's filesystem, the top directory included. */
  scanned: number;
  /** Entries whose owner, group or (directories) owner bits were changed. */
  changed: number;
  skipped_mounts: string[];
  errors: number;
  /** The first few failures (at most 5). */
  error_samples: { path: string; code: string }[];
  error_codes: Record<string, number>;
  duration_ms: number;
  interrupted: boolean;
}

export interface RepairOptions {
  uid: number;
  gid: number;
  /** Abort => the walk stops within milliseconds and the result has interrupted=true. */
  signal?: AbortSignal;
  onProgress?: (p: RepairProgress) => void;
  /** Default 2000; onProgress is called at most that often. */
  progressIntervalMs?: number;
  /**
   * Threads walking at once (main thread included). Default: the CPUs not already busy (available
   * CPUs minus the 1-minute load average, rounded), at least 1, at most 4.
   */
  concurrency?: number;
}

/** Main-thread work between two yields to the event loop. Bounds abort and progress latency. */
const SLICE_MS = 5;
/**
 * Worker threads start only when the main thread has walked this long and work remains: a thread
 * costs 10-20 ms of main-thread time to create and 20+ ms to boot, more than a small tree takes.
 */
const SPAWN_AFTER_MS = 15;
/** A directory with more names than this is split into units other walkers can take. */
const CHUNK = 512;
/** Directories bigger than this are listed CHUNK names at a time (see WalkerConfig.bigDirBytes). */
const BIG_DIR_BYTES = 256 * 1024;
/** Each walker costs a thread, its memory and its start-up; the gain was measured with 2 CPUs only. */
const MAX_DEFAULT_CONCURRENCY = 4;

/**
 * Walkers worth starting: a helper thread on a CPU that other processes keep busy only competes
 * with the main thread (measured with 2 CPUs at load 3: 15% slower than the main thread alone).
 */
export function defaultConcurrency(cpus = availableParallelism(), load = loadavg()[0] ?? 0): number {
  return Math.max(1, Math.min(MAX_DEFAULT_CONCURRENCY, Math.round(cpus - load)));
}
/** After an abort, how long to wait for workers to send their reports before terminating them. */
const ABORT_GRACE_MS = 50;
/** Longest sleep of the main thread while it waits for workers (it is woken earlier by them). */
const WAIT_MS = 50;

/** Atomics.waitAsync (Node >= 16) is missing from the ES2023 lib that tsconfig targets. */
interface AtomicsWithWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}

interface Helper extends WalkerThread {
  /** Units handed over and not yet reported done: walked again by others if the thread dies. */
  assigned: WorkUnit[];
  alive: boolean;
}

/**
 * Walks `top` (an absolute, existing directory) and fixes ownership of every entry whose uid or gid differs.
 * Throws (rejects) only for a refused system path (EntrypointError 125); a missing or non-directory
 * top is reported as one error in the result. A symlink as `top` is resolved and its target walked.
 */
export async function repairTree(top: string, opts: RepairOptions): Promise<RepairResult> {
  assertRepairable(top);
  const started = performance.now();
  const result: RepairResult = {
    path: top,
    scanned: 0,
    changed: 0,
    skipped_mounts: [],
    errors: 0,
    error_samples: [],
    error_codes: {},
    duration_ms: 0,
    interrupted: false,
  };
  const merge = (report: WalkerReport): void => {
    for (const [code, count] of Object.entries(report.errorCodes)) result.error_codes[code] = (result.error_codes[code] ?? 0) + count;
    for (const sample of report.errorSamples) if (result.error_samples.length < MAX_ERROR_SAMPLES) result.error_samples.push(sample);
    for (const mount of report.skippedMounts) if (result.skipped_mounts.length < MAX_SKIPPED_MOUNTS) result.skipped_mounts.push(mount);
  };
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;

  // The walk runs on the physical path, in latin1 form (one char per byte: see walker.ts).
  let root: string;
  let dev: number;
  let topSize: number;
  try {
    root = fs.realpathSync.native(top, { encoding: 'buffer' }).toString('latin1');
    const st = fs.lstatSync(Buffer.from(root, 'latin1'));
    if (!st.isDirectory()) throw Object.assign(new Error(`${top} is not a directory`), { code: 'ENOTDIR' });
    dev = st.dev;
    topSize = st.size;
    // A no-op chown of the top tells a read-only volume at once (EROFS), instead of one error per entry.
    fs.lchownSync(Buffer.from(root, 'latin1'), st.uid, st.gid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    merge({ errorCodes: { [code]: 1 }, errorSamples: [{ path: top, code }], skippedMounts: [] });
    return { ...result, errors: 1, duration_ms: elapsed() };
  }

  const maxWorkers = Math.max(0, Math.floor(opts.concurrency ?? defaultConcurrency()) - 1);
  const ctlBuffer = new SharedArrayBuffer((CTL.WORKER_STATE + maxWorkers) * Int32Array.BYTES_PER_ELEMENT);
  const ctl = new Int32Array(ctlBuffer);
  const config: WalkerConfig = {
    uid: opts.uid,
    gid: opts.gid,
    dev,
    chunk: CHUNK,
    bigDirBytes: BIG_DIR_BYTES,
    maxErrorSamples: MAX_ERROR_SAMPLES,
    maxSkippedMounts: MAX_SKIPPED_MOUNTS,
    slots: CTL,
  };
  const walker = createWalker(fs, config, ctl);
  const helpers: Helper[] = [];
  const queue: WorkUnit[] = [];

  const onAbort = (): void => {
    Atomics.store(ctl, CTL.ABORT, 1);
    Atomics.notify(ctl, CTL.PENDING); // wakes the main thread if it waits for workers
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const aborted = (): boolean => Atomics.load(ctl, CTL.ABORT) !== 0;

  const progressTimer = opts.onProgress
    ? setInterval(() => {
        const scanned = Atomics.load(ctl, CTL.SCANNED);
        const ms = elapsed();
        try {
          opts.onProgress?.({
            path: top,
            scanned,
            changed: Atomics.load(ctl, CTL.CHANGED),
            rate_per_s: ms > 0 ? Math.round((scanned * 1000) / ms) : 0,
            elapsed_ms: Math.round(ms),
          });
        } catch {
          // A failing progress callback must not break the repair.
        }
      }, opts.progressIntervalMs ?? 2000)
    : undefined;

  const isIdle = (helper: Helper): boolean => !helper.alive || Atomics.load(ctl, CTL.WORKER_STATE + helper.index) === WORKER.IDLE;
  /** Reads every message the workers posted: donated units join the queue, reports are merged. */
  const drain = (): void => {
    for (const helper of helpers) {
      for (let received = receiveMessageOnPort(helper.port); received !== undefined; received = receiveMessageOnPort(helper.port)) {
        Atomics.sub(ctl, CTL.PENDING, 1);
        const message = received.message as FromWorker;
        if (message.type === 'work') {
          queue.push(...message.units);
        } else {
          merge(message.report);
          helper.assigned = [];
        }
      }
    }
  };
  /** Gives idle workers a fair share of the queue, oldest units (the biggest subtrees) first. */
  const handOut = (): void => {
    const idle = helpers.filter((helper) => helper.alive && isIdle(helper) && helper.assigned.length === 0);
    for (const helper of idle) {
      const share = Math.floor(queue.length / (idle.length + 1));
      if (share === 0) break;
      helper.assigned = queue.splice(0, share);
      giveWork(helper, ctl, helper.assigned);
    }
    // Whoever is still idle asks the busy workers to donate.
    const starving = helpers.filter((helper) => helper.alive && isIdle(helper) && helper.assigned.length === 0).length + (queue.length === 0 ? 1 : 0);
    Atomics.store(ctl, CTL.WANT_WORK, starving);
  };
  const spawnHelpers = (): void => {
    for (let index = 0; index < maxWorkers; index++) {
      const helper: Helper = { ...startWorker(config, ctlBuffer, index), assigned: [], alive: true };
      const onDeath = (): void => {
        if (!helper.alive) return;
        // Its units go back to the queue: the walk is idempotent, fixed entries are only re-checked.
        helper.alive = false;
        queue.push(...helper.assigned);
        helper.assigned = [];
        Atomics.notify(ctl, CTL.PENDING);
      };
      helper.worker.on('error', onDeath);
      helper.worker.on('exit', onDeath);
      helpers.push(helper);
    }
  };
  /** Sleeps until a worker posts or changes state (or the walk is aborted), without blocking the loop. */
  const waitForWorkers = async (timeoutMs: number): Promise<void> => {
    const observed = Atomics.load(ctl, CTL.PENDING);
    const waited = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(ctl, CTL.PENDING, observed, timeoutMs);
    if (waited.async) await waited.value;
  };
  /** Busy = was handed units and its `done` report is not read yet (a booting thread has none). */
  const someoneBusy = (): boolean => helpers.some((helper) => helper.alive && helper.assigned.length > 0);

  try {
    // The top directory is fixed LAST: a walk stopped half-way (docker stop) leaves the top wrong, so
    // the next start's on-root-mismatch check walks the tree again instead of trusting a half-done one.
    queue.push({ dir: root, ascii: !/[^\x00-\x7f]/.test(root), big: topSize > BIG_DIR_BYTES });
    for (;;) {
      const sliceEnd = performance.now() + SLICE_MS;
      while (!aborted()) {
        if (Atomics.load(ctl, CTL.PENDING) > 0) drain();
        if (helpers.length > 0) handOut();
        // Listing a big directory: one slice of names for this thread, one left for the others.
        if (walker.continueListing(queue)) walker.continueListing(queue);
        const unit = queue.pop();
        if (unit === undefined) break;
        walker.processUnit(unit, queue);
        if (performance.now() >= sliceEnd) break;
      }
      if (aborted()) break;
      if (queue.length === 0) {
        drain();
        if (queue.length === 0 && !someoneBusy()) break; // everything walked
        handOut(); // raises WANT_WORK for the main thread too
        if (queue.length === 0) await waitForWorkers(WAIT_MS);
      } else {
        // Still work after a while: the tree is big enough to be worth the worker threads.
        if (helpers.length === 0 && maxWorkers > 0 && performance.now() - started >= SPAWN_AFTER_MS) spawnHelpers();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (aborted()) {
      result.interrupted = true;
      const deadline = performance.now() + ABORT_GRACE_MS;
      for (drain(); someoneBusy() && performance.now() < deadline; drain()) await waitForWorkers(5);
    } else {
      walker.visitPath(root);
    }
  } finally {
    walker.closeListings();
    opts.signal?.removeEventListener('abort', onAbort);
    if (progressTimer) clearInterval(progressTimer);
    // Not awaited: a thread still booting would delay the result by its boot time. Unref'd, the
    // threads cannot keep the process alive; exec or exit ends them anyway.
    for (const helper of helpers) {
      helper.worker.unref();
      void helper.worker.terminate();
    }
  }

  merge(walker.takeReport());
  result.scanned = Atomics.load(ctl, CTL.SCANNED);
  result.changed = Atomics.load(ctl, CTL.CHANGED);
  result.errors = Atomics.load(ctl, CTL.ERRORS);
  result.duration_ms = elapsed();
  return result;
}
