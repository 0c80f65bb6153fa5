// Runs the BUILT executable (dist/model-entrypoint) for real and parses what it logged.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { afterEach } from 'vitest';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const BINARY = resolve(REPO, 'dist', 'model-entrypoint');
export const SERVICE = resolve(REPO, 'test', 'fixtures', 'report-service.sh');

export function assertBuilt(): void {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` first (npm test does it)`);
}

export interface LogLine {
  level: string;
  event: string;
  msg: string;
  [key: string]: unknown;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr parsed as JSON lines (non-JSON lines make the test fail via `strayStderr`). */
  logs: LogLine[];
  strayStderr: string[];
  /** key=value facts printed by the report service. */
  service: Record<string, string[]>;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Run as this uid:gid through setpriv (a real non-root user). */
  asUser?: { uid: number; gid: number };
  cwd?: string;
  /** A prefix command, e.g. ['unshare', '--pid', '--fork', '--mount-proc']. */
  wrap?: string[];
  timeoutMs?: number;
  input?: string;
}

/** A minimal environment: tests never inherit the developer's variables by accident. */
export const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

export function runBinary(args: string[], opts: RunOptions = {}): RunResult {
  const env = Object.fromEntries(Object.entries({ ...BASE_ENV, ...opts.env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  let argv = [BINARY, ...args];
  if (opts.asUser) argv = ['setpriv', `--reuid=${opts.asUser.uid}`, `--regid=${opts.asUser.gid}`, '--clear-groups', ...argv];
  if (opts.wrap) argv = [...opts.wrap, ...argv];
  const spawnOpts: SpawnSyncOptions = { env, cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, input: opts.input, maxBuffer: 64 * 1024 * 1024 };
  const r = spawnSync(argv[0], argv.slice(1), spawnOpts);
  if (r.error) throw r.error;
  const stderr = String(r.stderr);
  const stdout = String(r.stdout);
  const logs: LogLine[] = [];
  const strayStderr: string[] = [];
  for (const line of stderr.split('\n').filter((l) => l.trim() !== '')) {
    try {
      logs.push(JSON.parse(line));
    } catch {
      strayStderr.push(line);
    }
  }
  const service: Record<string, string[]> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([\w.]+)=(.*)$/.exec(line);
    if (m) (service[m[1]] ??= []).push(m[2]);
  }
  return { status: r.status, signal: r.signal, stdout, stderr, logs, strayStderr, service };
}

export function tempRoot(prefix = 'me-it-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * For a test file's top level: returns a maker of temporary directories (mode 755, so that uid 1000
 * can reach what is inside), all removed after each test.
 */
export function tempRootsPerTest(defaultPrefix = 'me-it-'): (prefix?: string) => string {
  let made: string[] = [];
  afterEach(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
    made = [];
  });
  return (prefix = defaultPrefix) => {
    const dir = tempRoot(prefix);
    chmodSync(dir, 0o755);
    made.push(dir);
    return dir;
  };
}

/** Every entry under `dir` with its type, owner, mode and link target: compare before/after to prove nothing changed. */
export function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    out.push(`${p} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isFile() ? st.size : ''}`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export function byEvent(logs: LogLine[], event: string): LogLine[] {
  return logs.filter((l) => l.event === event);
}
