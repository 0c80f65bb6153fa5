// The imperative shell: parse -> observe -> plan -> (print | check | prepare) -> drop privileges -> exec.
import { readFileSync, statSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { resolve } from './paths.js';
import { EntrypointError, EXIT, errnoCode } from './errors.js';
import { ancestorsFrom, observeDir, hasPermission, type Identity } from './facts.js';
import { createLogger, now, scrubSecrets, since, type Logger } from './log.js';
import { parseCommandLine, type Options } from './options.js';
import { fatalProblem, makePlan } from './planner.js';
import { runPrepared } from './run.js';
import { secretValues } from './env.js';
import { readUserDb } from './users.js';
import { assertNotSetuidBinary } from './privileges.js';
import { observeFs, removeActiveProbes } from './executor.js';
import { assertRepairable } from './repair/system-paths.js';
import { inspectExecutable, type Candidate } from './command.js';
import { helpText, versionText } from './help.js';

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const;

function writeOut(text: string): void {
  writeSync(1, text);
}

/** Can `who` search every directory on the way to `path` (x on each ancestor)? */
function ancestorsSearchable(path: string, who: Identity): boolean {
  return ancestorsFrom(observeFs, posix.dirname(path)).every((a) => hasPermission(who, a, 1));
}

/** stat + permission bits (of the file and of the directories leading to it), as `who` would see it. */
function lookCommand(path: string, who: Identity): Candidate {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return { kind: 'directory', executable: false };
    if (!st.isFile()) return { kind: 'other', executable: false };
    const executable = hasPermission(who, { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, 1, false) && ancestorsSearchable(resolve(path), who);
    return { kind: 'file', executable, ...(executable ? inspectExecutable(path) : {}) };
  } catch (err) {
    const code = errnoCode(err);
    return code === 'ENOENT' || code === 'ENOTDIR' ? { kind: 'missing', executable: false, error_code: code } : { kind: 'other', executable: false, error_code: code };
  }
}

/** Runs the whole entrypoint; returns the exit code unless it execs. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = now();
  const secrets = secretValues(env);
  // The default logger is only made if something is logged before the options are known: one pino, not two.
  let logger: Logger | undefined;
  const log = (): Logger => (logger ??= createLogger({ level: 'info', format: 'json', secrets }));
  // Only a repair walk listens to it: node's AbortController costs ~0.7 ms of a start that walks nothing.
  let abort: AbortController | undefined;

  // As PID 1 the kernel drops signals we have no handler for: handle them while preparing.
  for (const [name, n] of Object.entries(SIGNALS)) {
    process.on(name as NodeJS.Signals, () => {
      abort?.abort();
      removeActiveProbes();
      log().error({ event: 'entrypoint.interrupted', phase: 'prepare', signal: name, exit_code: 128 + n, duration_ms: since(started) }, `stopped by ${name} before the service started: no probe file is left behind, and an interrupted ownership repair resumes at the next start`);
      process.exit(128 + n);
    });
  }

  try {
    let options: Options;
    try {
      options = parseCommandLine({ argv, env, readFile: (p) => readFileSync(p, 'utf8') });
    } catch (err) {
      // Honour LOG_FORMAT even when the command line is wrong, so the error reads the same as the rest.
      if (env.LOG_FORMAT === 'pretty') logger = createLogger({ level: 'info', format: 'pretty', secrets });
      throw err;
    }
    logger = createLogger({ level: options.logLevel.value, format: options.logFormat.value, secrets });
    if (options.help) return writeOut(helpText()), EXIT.OK;
    if (options.version) return writeOut(versionText()), EXIT.OK;
    assertNotSetuidBinary(process.execPath);

    const runningAs: Identity = { uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!() };
    const needsUserDb = options.user.value !== undefined || options.mode === 'fix-permissions';
    const plan = makePlan({
      options,
      env,
      runningAs,
      userDb: needsUserDb ? readUserDb() : { passwd: '', group: '' },
      cwd: process.cwd(),
      observeDir: (p) => observeDir(observeFs, p, { ancestors: true }),
      lookCommand,
    });

    // Refuse before anything is printed or changed: the plan would be refused when run, too.
    for (const d of plan.dirs) {
      if (d.repair === 'walk' || (plan.mode === 'fix-permissions' && d.action !== 'fail')) assertRepairable(d.path);
    }

    if (options.printPlan) {
      const { planToJson, planToText } = await import('./render.js');
      const text = options.format.value === 'json' ? JSON.stringify(planToJson(plan), null, 2) + '\n' : planToText(plan);
      writeOut(scrubSecrets(text, secrets));
      return EXIT.OK;
    }

    // A HEALTHCHECK runs check every 30 s: its start line is debug, so only problems reach the health log.
    logger[plan.mode === 'check' ? 'debug' : 'info']({ event: 'entrypoint.start', phase: 'start', mode: plan.mode, uid: runningAs.uid, gid: runningAs.gid, service_uid: plan.service.uid, service_gid: plan.service.gid, directories: plan.dirs.map((d) => d.path), repair: plan.repairPolicy, strict: plan.strict }, `preparing ${plan.dirs.length} directories for uid ${plan.service.uid}`);
    if (plan.user.warning) logger.warn({ event: plan.user.action === 'ignored' ? 'user.not_switched' : 'user.group_root', phase: 'user', spec: plan.user.spec, uid: runningAs.uid, gid: runningAs.gid }, plan.user.warning);
    const fatal = fatalProblem(plan);
    if (fatal) throw fatal;

    if (plan.dirs.some((d) => d.repair === 'walk')) abort = new AbortController();
    return await runPrepared(plan, { logger, signal: abort?.signal, started, format: options.format.value, writeOut: (t) => writeOut(scrubSecrets(t, secrets)) });
  } catch (err) {
    return reportFailure(log(), err, started);
  }
}

/** One `level: error` line naming the cause and the fix; never a stack trace. */
export function reportFailure(logger: Logger, err: unknown, started: number): number {
  if (err instanceof EntrypointError) {
    logger.error({ event: err.event, phase: 'start', ...err.fields, hint: err.hint, exit_code: err.exitCode, duration_ms: since(started) }, err.message);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  logger.error({ event: 'entrypoint.internal_error', phase: 'start', error_code: errnoCode(err), exit_code: EXIT.WRAPPER, hint: 'this is a bug in model-entrypoint: please report it with this line', duration_ms: since(started) }, `internal error: ${message}`);
  return EXIT.WRAPPER;
}

/**
 * The environment as a plain object, read once from /proc/self/environ: process.env looks each key up
 * with getenv (a linear scan), so copying 10,000 variables through it took 0.3 s. First entry wins, as
 * with getenv; without /proc, process.env it is.
 */
export function initialEnvironment(): Record<string, string> {
  let raw: string;
  try {
    raw = readFileSync('/proc/self/environ', 'utf8');
  } catch {
    return { ...process.env } as Record<string, string>;
  }
  const env: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!Object.hasOwn(env, name)) env[name] = entry.slice(eq + 1);
  }
  return env;
}

// Entry: run and exit with the code (execve never returns on success).
if (require.main === module) {
  main(process.argv.slice(2), initialEnvironment()).then(
    (code) => process.exit(code),
    () => process.exit(EXIT.WRAPPER),
  );
}
