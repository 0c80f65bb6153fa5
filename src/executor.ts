// The one executor: applies a Plan's directory work (create, repair, probe) and reports each directory.
import { chmodSync, closeSync, constants, lchownSync, lstatSync, mkdirSync, opendirSync, openSync, readSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { errnoCode, errnoMeaning } from './errors.js';
import { freeBytes, observeDir, type Identity } from './facts.js';
import { now, since, type Logger } from './log.js';
import { remediation, type DirPlan, type Plan } from './planner.js';
import type { RepairResult } from './repair/index.js';

export interface DirReport {
  path: string;
  purposes: string[];
  exists: boolean;
  created: boolean;
  readable: boolean;
  writable: boolean;
  user_id?: number;
  group_id?: number;
  permissions?: string;
  free_bytes?: number;
  error_code?: string;
  error_meaning?: string;
  message?: string;
  hint?: string;
  low_space?: boolean;
  repair?: RepairResult;
  duration_ms: number;
}

export interface ExecuteContext {
  logger: Logger;
  /** Present when the plan has a repair walk to interrupt. */
  signal?: AbortSignal;
  /** check: probe only, create and repair nothing. */
  dryRun?: boolean;
}

/** Probe files in flight, so an interrupt can remove them before exiting. */
export const activeProbes = new Set<string>();

export function removeActiveProbes(): void {
  for (const p of activeProbes) {
    try {
      unlinkSync(p);
    } catch { /* already gone */ }
    activeProbes.delete(p);
  }
}

/**
 * Runs `fn` with the effective ids of `who` (root only), so probes see exactly what the service will.
 * The real uid stays 0, which is what lets us switch back afterwards.
 */
export function asIdentity<T>(runningAs: Identity, who: Identity, fn: () => T): T {
  if (runningAs.uid !== 0 || who.uid === 0) return fn();
  const savedGroups = process.getgroups!();
  process.setgroups!(who.groups);
  process.setegid!(who.gid);
  process.seteuid!(who.uid);
  try {
    return fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(runningAs.gid);
    process.setgroups!(savedGroups);
  }
}

/** Named imports, not `import * as fs`: the bundler would copy the whole namespace (~0.5 ms of start-up). */
export const observeFs = { lstatSync, statSync, statfsSync };

/** `bytes` random bytes as hex, from the kernel; node:crypto is loaded only without /dev/urandom (it costs ~4 ms of start-up). */
function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, buf, 0, bytes, null) === bytes) return buf.toString('hex');
  } catch { /* no /dev/urandom in this container */ } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return process.getBuiltinModule('node:crypto').randomBytes(bytes).toString('hex');
}

/** A real write: create a unique file with O_EXCL, write a byte, remove it. Returns the errno code on failure. */
export function writeProbe(dir: string): string | undefined {
  // `dir` is a plan path (absolute, normalised): concatenation is posix.join's result without its
  // per-character normalisation, whose hot loop would otherwise get V8's optimising compiler started (~2 MB).
  const probe = `${dir === '/' ? '' : dir}/.model-entrypoint-probe-${process.pid}-${randomHex(6)}`;
  let fd: number | undefined;
  activeProbes.add(probe);
  try {
    fd = openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
    writeSync(fd, 'x');
    return undefined;
  } catch (err) {
    return errnoCode(err) ?? 'EIO';
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(probe);
    } catch { /* never created */ }
    activeProbes.delete(probe);
  }
}

/** Can the directory be listed? Reads one entry without listing a huge directory whole. */
export function readProbe(dir: string): string | undefined {
  try {
    const d = opendirSync(dir);
    try {
      d.readSync();
    } finally {
      d.closeSync();
    }
    return undefined;
  } catch (err) {
    return errnoCode(err) ?? 'EIO';
  }
}

interface CreatedDir {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Creates the missing components (parents first), mode 0755, owned by the target user when asked.
 * Inside a setgid directory (a Kubernetes fsGroup volume, a shared group folder) the kernel gives the
 * new directory the parent's group and setgid bit: both are kept, so the group sharing goes on.
 */
function createMissing(d: DirPlan): { created: CreatedDir[]; error?: string; at?: string } {
  const created: CreatedDir[] = [];
  for (const p of d.facts.missing ?? []) {
    try {
      mkdirSync(p, 0o755);
    } catch (err) {
      const code = errnoCode(err);
      // Another container may have created it a moment ago: that is fine if it is a directory now.
      if (code === 'EEXIST' && statSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
      return { created, error: code ?? 'EIO', at: p };
    }
    try {
      const setgid = lstatSync(p).mode & 0o2000;
      chmodSync(p, 0o755 | setgid); // the umask must not make it narrower
      if (d.chownCreatedTo) lchownSync(p, d.chownCreatedTo.uid, setgid ? -1 : d.chownCreatedTo.gid);
      const st = lstatSync(p);
      created.push({ path: p, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 });
    } catch (err) {
      return { created, error: errnoCode(err) ?? 'EIO', at: p };
    }
  }
  return { created };
}

export async function prepareDirectories(plan: Plan, ctx: ExecuteContext): Promise<DirReport[]> {
  const reports: DirReport[] = [];
  for (const d of plan.dirs) {
    if (ctx.signal?.aborted) break;
    reports.push(await prepareOne(plan, d, ctx));
  }
  return reports;
}

async function prepareOne(plan: Plan, d: DirPlan, ctx: ExecuteContext): Promise<DirReport> {
  const start = now();
  const { logger } = ctx;
  const report: DirReport = { path: d.path, purposes: d.purposes, exists: d.facts.state === 'directory', created: false, readable: false, writable: false, duration_ms: 0 };
  const finish = (): DirReport => {
    report.duration_ms = since(start);
    return report;
  };
  const failWith = (code: string, message: string, hint: string) => {
    Object.assign(report, { error_code: code, error_meaning: errnoMeaning(code), message, hint });
  };

  if (d.action === 'fail') {
    failWith(d.problem!.code, d.problem!.message, d.problem!.hint);
    return finish();
  }

  if (d.action === 'create' && !ctx.dryRun) {
    const t = now();
    const { created, error, at } = createMissing(d);
    for (const c of created) {
      logger.info({ event: 'dir.created', phase: 'prepare', path: c.path, for: d.path, user_id: c.uid, group_id: c.gid, permissions: c.mode.toString(8), duration_ms: since(t) }, `created ${c.path}`);
    }
    report.created = created.some((c) => c.path === d.path);
    if (error) {
      failWith(error, `cannot create ${at}: ${errnoMeaning(error)}`, error === 'EROFS' ? 'mount the volume read-write (remove :ro), or point this setting at a writable volume' : remediation(posix.dirname(at!), plan.service, plan.runningAs, plan.mode));
    }
  }

  const after = observeDir(observeFs, d.path);
  if (after.state === 'directory' && after.dir) {
    report.exists = true;
    if (d.repair === 'walk' && !ctx.dryRun && plan.user.target) {
      report.repair = await repairDir(d.path, plan.user.target, ctx);
    }
    const dir = report.repair ? observeDir(observeFs, d.path).dir ?? after.dir : after.dir;
    Object.assign(report, { user_id: dir.uid, group_id: dir.gid, permissions: dir.mode.toString(8) });
    const who = plan.service;
    const readErr = asIdentity(plan.runningAs, who, () => readProbe(d.path));
    const writeErr = asIdentity(plan.runningAs, who, () => writeProbe(d.path));
    report.readable = readErr === undefined;
    report.writable = writeErr === undefined;
    const err = writeErr ?? readErr;
    if (err === 'EACCES' && d.problem?.code === 'EACCES' && !report.error_code) {
      // The planner already knows the precise cause (owner and mode, or an ancestor it cannot search).
      failWith(err, d.problem.message, d.problem.hint);
    } else if (err && !report.error_code) {
      const owner = `owned by ${dir.uid}:${dir.gid} with mode ${dir.mode.toString(8)}`;
      const hint = err === 'EROFS' ? 'the volume is mounted read-only: remove `:ro` from the volume (or readOnly in Kubernetes) if the service must write here, or point this setting at a writable volume'
        : err === 'ENOSPC' || err === 'EDQUOT' ? 'free space on this volume (delete unused models) or give it more capacity'
        : remediation(d.path, who, plan.runningAs, plan.mode);
      failWith(err, `${d.path} is not ${writeErr ? 'writable' : 'readable'} by uid ${who.uid} gid ${who.gid}: ${errnoMeaning(err)} (${owner})`, hint);
    }
  } else if (!report.error_code) {
    failWith('ENOENT', `${d.path} does not exist`, d.problem?.hint ?? 'it should have been created: check the logs above');
  }
  report.free_bytes = freeBytes(observeFs, report.exists ? d.path : d.facts.ancestor?.path ?? d.path);
  if (plan.minFree !== undefined && report.free_bytes !== undefined && report.free_bytes < plan.minFree) report.low_space = true;
  return finish();
}

async function repairDir(path: string, target: { uid: number; gid: number }, ctx: ExecuteContext): Promise<RepairResult> {
  const { logger } = ctx;
  logger.info({ event: 'repair.start', phase: 'repair', path, user_id: target.uid, group_id: target.gid }, `repairing ownership of ${path} to ${target.uid}:${target.gid}`);
  // Loaded only when a tree is repaired: the engine and its worker threads are not on the common path.
  const { repairTree } = await import('./repair/index.js');
  const result = await repairTree(path, {
    uid: target.uid,
    gid: target.gid,
    signal: ctx.signal,
    onProgress: (p) => logger.info({ event: 'repair.progress', phase: 'repair', ...p }, `repairing ${path}: ${p.scanned} scanned, ${p.changed} changed`),
  });
  const level = result.errors > 0 ? 'warn' : 'info';
  logger[level]({ event: 'repair.done', phase: 'repair', ...result }, `repaired ${path}: ${result.changed} of ${result.scanned} entries changed${result.errors ? `, ${result.errors} errors` : ''}`);
  if (result.errors > 0) {
    const [code] = Object.entries(result.error_codes).sort((a, b) => b[1] - a[1])[0] ?? ['EIO'];
    logger.warn(
      { event: 'repair.errors', phase: 'repair', path, errors: result.errors, error_codes: result.error_codes, error_samples: result.error_samples, error_code: code, error_meaning: errnoMeaning(code), hint: code === 'EPERM' ? 'on NFS with root_squash root cannot chown: fix ownership on the NFS server, or export with no_root_squash' : code === 'EROFS' ? 'the volume is read-only: repair it on the host' : 'see error_samples for the paths; fix them on the host with model-entrypoint fix-permissions' },
      `${result.errors} entries under ${path} could not be repaired (${code}: ${errnoMeaning(code)})`,
    );
  }
  return result;
}
