// After planning: prepare the directories, report them, then check / summarise / drop privileges and exec.
import { posix } from 'node:path';
import { EntrypointError, EXIT, errnoCode } from './errors.js';
import { prepareDirectories, type DirReport } from './executor.js';
import { execFailure } from './command.js';
import { displayArgv } from './env.js';
import { now, since, type Logger } from './log.js';
import type { Plan } from './planner.js';
import { dropPrivileges } from './privileges.js';

export interface RunContext {
  logger: Logger;
  /** Aborted by a signal during a repair walk; absent when the plan walks nothing. */
  signal?: AbortSignal;
  started: number;
  format: 'text' | 'json';
  writeOut: (text: string) => void;
}

/** Service commands that are themselves an init: no advice to add one. */
const KNOWN_INITS = new Set(['tini', 'tini-static', 'dumb-init', 'catatonit', 's6-svscan', 'docker-init', 'init', 's6-overlay-suexec']);

/** One line per directory. Problems are warnings: the single error line, if any, is the exit's own. */
function logDirReport(logger: Logger, r: DirReport, minFree?: number): void {
  const { message, hint, repair: _repair, ...fields } = r;
  if (r.writable && r.readable) {
    logger.info({ event: 'dir.ready', phase: 'prepare', ...fields }, `${r.path} is ready (${r.created ? 'created' : 'exists'}, writable)`);
  } else {
    logger.warn({ event: 'dir.unwritable', phase: 'prepare', ...fields, hint }, message ?? `${r.path} is not writable`);
  }
  if (r.low_space) {
    logger.warn({ event: 'dir.low_space', phase: 'prepare', path: r.path, free_bytes: r.free_bytes, min_free_bytes: minFree, hint: 'free space on this volume (delete unused models or caches) or give it more capacity' }, `${r.path} has ${r.free_bytes} bytes free, less than the ${minFree} asked for by --min-free`);
  }
}

export async function runPrepared(plan: Plan, ctx: RunContext): Promise<number> {
  const { logger } = ctx;
  const reports = await prepareDirectories(plan, { logger, signal: ctx.signal, dryRun: plan.mode === 'check' });
  // check prints its report on stdout; its log stays quiet unless unhealthy.
  if (plan.mode !== 'check') for (const r of reports) logDirReport(logger, r, plan.minFree);
  const bad = reports.filter((r) => !r.writable || !r.readable);
  const repairErrors = reports.reduce((n, r) => n + (r.repair?.errors ?? 0), 0);

  if (plan.mode === 'check') return finishCheck(plan, reports, ctx);
  if (plan.mode === 'fix-permissions') {
    const ok = bad.length === 0 && repairErrors === 0;
    const summary = { event: 'fix_permissions.done', phase: 'done', directories: reports.length, unwritable: bad.map((r) => r.path), changed: reports.reduce((n, r) => n + (r.repair?.changed ?? 0), 0), errors: repairErrors, user_id: plan.service.uid, group_id: plan.service.gid, duration_ms: since(ctx.started) };
    if (ok) logger.info(summary, `all ${reports.length} directories are owned by ${plan.service.uid}:${plan.service.gid} and writable`);
    else logger.error({ ...summary, hint: 'see the lines above for each path and its fix' }, `${bad.length + (repairErrors ? 1 : 0)} problem(s) left: not everything could be fixed`);
    return ok ? EXIT.OK : EXIT.UNHEALTHY;
  }

  if (plan.strict && bad.length > 0) {
    throw new EntrypointError(EXIT.WRAPPER, `strict mode: ${bad.length} directory(ies) not writable by uid ${plan.service.uid}: ${bad.map((r) => r.path).join(', ')}`, bad[0].hint ?? 'fix the ownership of the directories listed above', 'entrypoint.strict_failed', { paths: bad.map((r) => r.path) });
  }
  return execService(plan, ctx);
}

function finishCheck(plan: Plan, reports: DirReport[], ctx: RunContext): number {
  const { logger } = ctx;
  const healthy = reports.every((r) => r.writable && r.readable && !r.low_space);
  const result = { healthy, service_user: { uid: plan.service.uid, gid: plan.service.gid }, min_free_bytes: plan.minFree ?? null, directories: reports.map(({ repair: _r, ...r }) => r), duration_ms: since(ctx.started) };
  if (!healthy) {
    const bad = reports.filter((r) => !(r.writable && r.readable && !r.low_space));
    logger.error({ event: 'check.unhealthy', phase: 'check', paths: bad.map((r) => r.path), error_codes: bad.map((r) => r.error_code ?? 'LOW_SPACE'), hint: bad[0].hint ?? 'free space on the volume', duration_ms: since(ctx.started) }, `unhealthy: ${bad.map((r) => `${r.path} (${r.message ?? `only ${r.free_bytes} bytes free`})`).join('; ')}`);
  }
  if (ctx.format === 'json') {
    ctx.writeOut(JSON.stringify(result, null, 2) + '\n');
  } else {
    const lines = reports.map((r) => `${r.writable && r.readable && !r.low_space ? 'ok  ' : 'FAIL'} ${r.path}${r.message ? `: ${r.message}` : r.low_space ? `: only ${r.free_bytes} bytes free` : ''}${r.hint && !(r.writable && r.readable) ? `\n     fix: ${r.hint}` : ''}`);
    ctx.writeOut(`${lines.join('\n')}\n${healthy ? 'healthy' : 'unhealthy'}: ${reports.length} directories checked as uid ${plan.service.uid} gid ${plan.service.gid}\n`);
  }
  return healthy ? EXIT.OK : EXIT.UNHEALTHY;
}

/**
 * process.execve without the one thing it does that is not needed here: `require('internal/worker')` for
 * an isMainThread check, which loads worker threads and all of node:stream (~1.2 ms of every start). The
 * executable is built with --expose-internals for this (for its own code only: execArgvExtension is
 * none). Without it (unit tests, the build's training run), or for any value process.execve would
 * refuse, this is process.execve itself; both end in the same system call.
 */
function execve(path: string, argv: string[], env: [string, string][]): void {
  type ProcessMethods = { execve?: (path: string, argv: string[], env: string[]) => void };
  const internals = process.getBuiltinModule('internal/test/binding') as { internalBinding(name: string): ProcessMethods } | undefined;
  const direct = internals?.internalBinding('process_methods').execve;
  const envArray = env.map(([name, value]) => `${name}=${value}`);
  if (!direct || [path, ...argv, ...envArray].some((s) => s.includes('\0'))) return process.execve!(path, argv, Object.fromEntries(env));
  direct(path, argv, envArray);
}

function execService(plan: Plan, ctx: RunContext): number {
  const { logger } = ctx;
  const command = plan.command!;
  for (const e of plan.env) {
    const level = e.action === 'conflict' ? 'warn' : 'info';
    // `variable`, not `name`: every line already has pino's `name` (model-entrypoint).
    logger[level]({ event: `env.${e.action}`, phase: 'env', variable: e.name, value: e.value, from: e.from }, `${e.action} ${e.name}: ${e.reason}`);
  }
  if (process.pid === 1 && !KNOWN_INITS.has(posix.basename(command.path!))) {
    logger.info({ event: 'entrypoint.pid1', phase: 'exec' }, 'the service will run as PID 1 and must reap zombies and handle signals itself; to add an init use `init: true` in compose, `docker run --init`, or `tini` in the image (ENTRYPOINT ["tini", "--", "model-entrypoint"])');
  }
  if (plan.user.action === 'switch' && plan.user.target) {
    const t = now();
    dropPrivileges(plan.user.target);
    logger.info({ event: 'user.switched', phase: 'user', spec: plan.user.spec, uid: plan.user.target.uid, gid: plan.user.target.gid, groups: plan.user.target.groups, user: plan.user.target.name, home: plan.service.home, duration_ms: since(t) }, `switched to uid ${plan.user.target.uid} gid ${plan.user.target.gid}`);
  }
  const env = Object.entries(plan.serviceEnv).filter((e): e is [string, string] => e[1] !== undefined);
  logger.info({ event: 'entrypoint.exec', phase: 'exec', command: command.path, argv: displayArgv(command.argv), duration_ms: since(ctx.started) }, `starting ${command.path}`);
  // Node ignores SIGPIPE and SIGXFSZ, and ignored signals stay ignored across exec. Catching them
  // instead makes exec reset them to the default, so the service starts as it would under gosu or tini.
  for (const sig of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(sig, () => {});
  try {
    execve(command.path!, command.argv, env);
  } catch (err) {
    const f = execFailure(command.path!, errnoCode(err));
    throw new EntrypointError(f.exitCode, f.message, f.hint, 'command.failed', { command: command.path, error_code: errnoCode(err) });
  }
  return EXIT.WRAPPER; // not reached: execve replaced the process
}
