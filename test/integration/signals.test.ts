// Signals when the wrapper is NOT PID 1 (under an init, `docker run --init`, or a plain child as in
// these tests) and what the service inherits. PID-1 behaviour is in pid-namespace.test.ts.
//  - SIGTERM/SIGINT in the middle of a long repair walk: exit 128+n within a bound, exactly one
//    `entrypoint.interrupted` error line, even when a second signal follows at once; no probe left.
//  - The service starts with no ignored and no blocked signals (Node ignores SIGPIPE and SIGXFSZ; an
//    ignored signal would survive exec and change how e.g. a Python service dies on a closed pipe).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { assertBuilt, BASE_ENV, BINARY, byEvent, runBinary, tempRoot, type LogLine } from '../helpers/binary.js';
import { mountBigTree } from '../helpers/pidns.js';

const EXIT_BOUND_MS = 1000;
const TREE_ENTRIES = 200_000;
const canMount = process.getuid?.() === 0;
if (!canMount) console.log('signals suite: interruption tests SKIPPED: needs root to mount the tmpfs for the big tree');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
  stdout: string;
  stderr: string;
}

/** Starts the binary as a plain child; resolves `ready` once `event` was logged. */
function start(args: string[], env: Record<string, string>, event: string) {
  const child = spawn(BINARY, args, { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onLine: () => void = () => {};
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr += d), onLine()));
  let exitedAt = 0;
  child.on('exit', () => (exitedAt = performance.now()));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, at: exitedAt, stdout, stderr })));
  const ready = new Promise<void>((resolve, reject) => {
    onLine = () => stderr.includes(`"event":"${event}"`) && resolve();
    exit.then(() => reject(new Error(`exited before ${event}:\n${stderr}`)));
  });
  return { child, ready, exit };
}

const parse = (stderr: string): LogLine[] => stderr.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

beforeAll(() => assertBuilt());

describe.skipIf(!canMount)('interrupting the preparation (not PID 1)', () => {
  let volume = '';
  let cleanup = () => {};
  let nextUid = 4000;
  beforeAll(() => {
    ({ volume, cleanup } = mountBigTree(TREE_ENTRIES));
  }, 120_000);
  afterAll(() => cleanup());

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s during a 200k-entry repair walk: exit %i, one entrypoint.interrupted line, no probe left', async (signal, code) => {
    const uid = String(nextUid++);
    const p = start(['--root', volume, '--repair', 'always', '--', 'true'], { PUID: uid, PGID: uid }, 'repair.start');
    try {
      await p.ready;
      await new Promise((r) => setTimeout(r, 30));
      const sentAt = performance.now();
      p.child.kill(signal);
      const e = await p.exit;
      console.log(`signals: ${signal} to the wrapper (a plain child) during the walk -> exit ${e.code} after ${Math.round(e.at - sentAt)} ms`);
      expect(e.code).toBe(code);
      expect(e.at - sentAt).toBeLessThan(EXIT_BOUND_MS);
      const logs = parse(e.stderr);
      expect(byEvent(logs, 'repair.done').filter((l) => l.path === `${volume}/models` && l.interrupted === false), 'the walk was interrupted').toEqual([]);
      expect(logs.filter((l) => l.level === 'error')).toMatchObject([{ event: 'entrypoint.interrupted', signal, exit_code: code }]);
      expect(byEvent(logs, 'entrypoint.exec')).toEqual([]);
    } finally {
      p.child.kill('SIGKILL');
    }
    expect((readdirSync(volume, { recursive: true }) as string[]).filter((f) => f.includes('.model-entrypoint-probe'))).toEqual([]);
  });

  // Both may be pending at once, and the kernel delivers the lower-numbered one first: either may win,
  // but there is one error line, and it names the signal the exit code says.
  it('two signals back to back: exactly one error line, naming the signal of the exit code', async () => {
    const uid = String(nextUid++);
    const p = start(['--root', volume, '--repair', 'always', '--', 'true'], { PUID: uid, PGID: uid }, 'repair.start');
    try {
      await p.ready;
      p.child.kill('SIGTERM');
      p.child.kill('SIGINT');
      const e = await p.exit;
      expect([130, 143]).toContain(e.code);
      expect(parse(e.stderr).filter((l) => l.level === 'error').map((l) => l.signal)).toEqual([e.code === 143 ? 'SIGTERM' : 'SIGINT']);
    } finally {
      p.child.kill('SIGKILL');
    }
  });
});

describe('what the service inherits', () => {
  const root = tempRoot('me-signals-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dispositions = 'grep -E "^(SigIgn|SigBlk):" /proc/$$/status | tr -d "\\t" | sed "s/:/=/"';

  it.each([
    ['started as root, no user switch', {}],
    ['started as root, switched to 1000:1000', { PUID: '1000', PGID: '1000' }],
  ])('%s: no ignored and no blocked signals, as under gosu or tini', (_name, env) => {
    // Baseline: the same command started directly (spawnSync resets dispositions in the child).
    const r = runBinary(['--root', root, '--', 'sh', '-c', dispositions], { env });
    expect(r.status).toBe(0);
    expect(r.service.SigIgn).toEqual(['0000000000000000']);
    expect(r.service.SigBlk).toEqual(['0000000000000000']);
  });
});
