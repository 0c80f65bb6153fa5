// Real PID namespaces for tests: `unshare --pid --fork --mount-proc --mount` starts the command as
// PID 1 of a new PID namespace (with its own /proc and a private mount namespace), exactly the
// position an ENTRYPOINT has in a container. Signals go to the namespace's PID 1 through its HOST pid,
// as `docker stop` does: never to the unshare process, which would only forward nothing.
//
//   const ns = startInPidNamespace([BINARY, '--root', dir, '--', 'sleep', '60'], { env });
//   await ns.waitFor((o) => o.stderr.includes('"entrypoint.exec"'));
//   ns.signalPid1('SIGTERM');
//   const { code } = await ns.exit;
//
// Every process started here is killed (SIGKILL of PID 1 takes the whole namespace down) by
// killAllNamespaces(), which tests call in afterEach, so a failing test leaves nothing running.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The prefix that runs a command as PID 1 of a fresh PID + mount namespace. */
// --kill-child: if unshare itself dies (a killed test run), the kernel SIGKILLs the namespace's PID 1.
export const PIDNS_PREFIX = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--mount', '--propagation', 'private', '--'];

/** Why real PID namespaces cannot be used here, or undefined when they can. */
export function pidNamespaceUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_SYS_ADMIN) to create PID and mount namespaces';
  const r = spawnSync(PIDNS_PREFIX[0], [...PIDNS_PREFIX.slice(1), 'sh', '-c', 'echo $$'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `cannot run unshare: ${r.error.message}`;
  if (r.status !== 0) return `unshare --pid --fork --mount-proc failed (status ${r.status}): ${r.stderr.trim()}`;
  if (r.stdout.trim() !== '1') return `the command did not run as PID 1 of the new namespace (it saw pid ${r.stdout.trim()})`;
  return undefined;
}

export interface NsExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the exit was observed. */
  at: number;
}

export interface NsOutput {
  stdout: string;
  stderr: string;
}

export interface NsProcess {
  /** Host pid of the unshare process (the namespace's parent). */
  readonly unsharePid: number;
  output(): NsOutput;
  /** Resolves once `pred` holds for the output so far; rejects on timeout or if the process exits first. */
  waitFor(pred: (o: NsOutput) => boolean, timeoutMs?: number): Promise<NsOutput>;
  /** Host pid of the namespace's PID 1 (checked through NSpid in /proc/<pid>/status). */
  pid1(timeoutMs?: number): Promise<number>;
  /** Sends `signal` to the namespace's PID 1 by its host pid; returns performance.now() of the send. */
  signalPid1(signal: NodeJS.Signals): Promise<number>;
  readonly exit: Promise<NsExit>;
}

export interface NsOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

const running = new Set<{ unsharePid: number; done: boolean }>();

/** Starts argv as PID 1 of a new PID namespace. argv[0] is looked up in PATH inside the namespace. */
export function startInPidNamespace(argv: string[], opts: NsOptions = {}): NsProcess {
  const env = Object.fromEntries(Object.entries(opts.env ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const child = spawn(PIDNS_PREFIX[0], [...PIDNS_PREFIX.slice(1), ...argv], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not start unshare');
  const entry = { unsharePid: child.pid, done: false };
  running.add(entry);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((stdout += d), notify()));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((stderr += d), notify()));
  let exitedAt = 0;
  child.on('exit', () => (exitedAt = performance.now()));
  // Resolved on 'close' (all output read), with the time of 'exit' (when the process was reaped).
  const exit = new Promise<NsExit>((resolve) => {
    child.on('close', (code, signal) => {
      entry.done = true;
      running.delete(entry);
      resolve({ code, signal, at: exitedAt || performance.now() });
      notify();
    });
  });

  const output = () => ({ stdout, stderr });
  let cachedPid1: number | undefined;

  return {
    unsharePid: child.pid,
    output,
    exit,
    waitFor(pred, timeoutMs = 20_000) {
      return new Promise<NsOutput>((resolve, reject) => {
        const check = () => {
          if (pred(output())) return finish(() => resolve(output()));
          if (entry.done) finish(() => reject(new Error(`process exited before the awaited output appeared:\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for output:\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`))), timeoutMs);
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      });
    },
    async pid1(timeoutMs = 5_000) {
      if (cachedPid1 !== undefined) return cachedPid1;
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const pid = namespaceInit(child.pid!);
        if (pid !== undefined) return (cachedPid1 = pid);
        if (entry.done || performance.now() > deadline) throw new Error(`no PID 1 found under unshare pid ${child.pid}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async signalPid1(signal) {
      const pid = await this.pid1();
      const at = performance.now();
      process.kill(pid, signal);
      return at;
    },
  };
}

/** The child of `unsharePid` whose NSpid line says it is PID 1 of its namespace (host pid), if any yet. */
export function namespaceInit(unsharePid: number): number | undefined {
  for (const pid of childrenOf(unsharePid)) {
    const nspid = nsPids(pid);
    if (nspid && nspid.length >= 2 && nspid[nspid.length - 1] === 1) return pid;
  }
  return undefined;
}

/** Host pids of the children of `pid`: /proc/<pid>/task/<pid>/children, else a scan of PPid lines. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN.
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => {
      try {
        return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] === String(pid);
      } catch {
        return false;
      }
    });
  }
}

/** The NSpid line of /proc/<pid>/status: the pid in each nested namespace, outermost first. */
export function nsPids(pid: number): number[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    return line?.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
}

/** Kills every namespace started by startInPidNamespace that is still running and waits for them. */
export async function killAllNamespaces(): Promise<void> {
  const left = [...running];
  for (const e of left) {
    // SIGKILL of a namespace's PID 1 kills every process in it; killing unshare does too (--kill-child).
    const init = namespaceInit(e.unsharePid);
    for (const pid of init === undefined ? [e.unsharePid] : [init, e.unsharePid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* already gone */ }
    }
  }
  const deadline = performance.now() + 5_000;
  while (left.some((e) => !e.done) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A tree of `entries` files and directories under `${volume}/models`, on a private tmpfs mounted at a
 * new temporary directory (fast to create, gone at cleanup): with `--repair always` and a target uid
 * that owns none of it, the ownership walk visits and changes every entry, slowly enough (about a
 * second for 200k) for a signal to land in the middle of it. Needs root.
 */
export function mountBigTree(entries: number): { volume: string; cleanup: () => void } {
  const volume = mkdtempSync(join(tmpdir(), 'me-bigtree-'));
  chmodSync(volume, 0o755);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512m,mode=755', 'tmpfs', volume], { encoding: 'utf8' });
  if (m.status !== 0) {
    rmSync(volume, { recursive: true, force: true });
    throw new Error(`cannot mount a tmpfs for the big tree: ${m.stderr}`);
  }
  const cleanup = () => {
    spawnSync('umount', [volume]);
    rmSync(volume, { recursive: true, force: true });
  };
  try {
    const models = join(volume, 'models');
    mkdirSync(models);
    const perDir = 1000;
    for (let d = 0; d < Math.ceil(entries / perDir); d++) {
      const dir = join(models, `snapshot-${d}`);
      mkdirSync(dir);
      for (let f = 0; f < perDir - 1; f++) closeSync(openSync(join(dir, `blob-${f}`), 'w'));
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { volume, cleanup };
}
