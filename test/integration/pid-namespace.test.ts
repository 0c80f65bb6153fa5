// The built binary as the PID 1 of a real PID namespace (unshare --pid --fork --mount-proc), the
// position it has as a container ENTRYPOINT: exec keeps PID 1 for the service, signals during the
// preparation stop it promptly (a PID 1 without a handler would ignore them), signals after exec reach
// the service's own handler, `docker run --init` (tini as PID 1) changes nothing else, two containers
// starting at once on one volume both succeed, and no planted token ever reaches stderr.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, BINARY, byEvent, runBinary, SERVICE, tempRoot, type LogLine, type RunResult } from '../helpers/binary.js';
import { killAllNamespaces, mountBigTree, PIDNS_PREFIX, pidNamespaceUnavailable, startInPidNamespace, type NsOutput } from '../helpers/pidns.js';

const SECRET = 'hf_PIDNSplantedTOKEN_7315';
const BASE = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HF_TOKEN: SECRET };
const PROBE = '.model-entrypoint-probe';
/** The target is 100 ms; the test allows for a loaded CI machine and prints the real figure. */
const SIGNAL_EXIT_BOUND_MS = 1000;
const TREE_ENTRIES = 200_000;

const unavailable = pidNamespaceUnavailable();
if (unavailable) console.log(`pid-namespace suite SKIPPED: ${unavailable}`);

/** Every stderr this suite captured, scanned for the planted token at the end. */
const capturedStderr: string[] = [];
let roots: string[] = [];

function newRoot(): string {
  const r = tempRoot('me-pidns-');
  chmodSync(r, 0o755);
  roots.push(r);
  return r;
}

function run(args: string[], env: Record<string, string> = {}, wrap = PIDNS_PREFIX): RunResult {
  const r = runBinary(args, { env: { ...BASE, ...env }, wrap });
  capturedStderr.push(r.stderr);
  return r;
}

function parseLogs(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as LogLine);
}

function expectCleanRun(r: { stderr: string; strayStderr?: string[] }) {
  if (r.strayStderr) expect(r.strayStderr, 'only JSON lines on stderr').toEqual([]);
  expect(r.stderr).not.toMatch(/\n\s+at |node:internal|ExperimentalWarning/);
}

/** Paths of leftover probe files anywhere under `dir`. */
function probesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => p.split('/').pop()!.startsWith(PROBE));
}

const lines = (o: NsOutput) => parseLogs(o.stderr);
const hasEvent = (event: string) => (o: NsOutput) => o.stderr.includes(`"event":"${event}"`);

beforeAll(() => assertBuilt());
afterEach(async () => {
  await killAllNamespaces();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

describe.skipIf(unavailable)('the wrapper as PID 1 of a PID namespace', () => {
  it('execs: the service becomes PID 1, and one entrypoint.pid1 info line says how to add an init', () => {
    const root = newRoot();
    const r = run(['--root', root, '--', SERVICE], { PUID: '1000', PGID: '1000' });
    expectCleanRun(r);
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'entrypoint.start')[0].pid).toBe(1);
    expect(r.service.pid).toEqual(['1']);
    expect(r.service.uid).toEqual(['1000']);
    const pid1 = byEvent(r.logs, 'entrypoint.pid1');
    expect(pid1).toHaveLength(1);
    expect(pid1[0].level).toBe('info');
    expect(pid1[0].msg).toMatch(/init: true/);
    expect(pid1[0].msg).toMatch(/docker run --init/);
    expect(pid1[0].msg).toMatch(/tini/);
  });

  it.each([
    ['tini', ['tini', '--']],
    ['dumb-init', ['dumb-init']],
  ])('no entrypoint.pid1 line when the service command is %s (a known init)', (_name, init) => {
    const root = newRoot();
    const report = 'echo "pid=$$"; echo "ppid=$PPID"; echo "init=$(cat /proc/1/comm)"';
    const r = run(['--root', root, '--', ...init, 'sh', '-c', report]);
    expectCleanRun(r);
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'entrypoint.start')[0].pid).toBe(1);
    // The wrapper exec'd the init, which is PID 1 now and runs the service as its child.
    expect(r.service.init).toEqual([init[0]]);
    expect(r.service.ppid).toEqual(['1']);
    expect(r.service.pid).not.toEqual(['1']);
    expect(byEvent(r.logs, 'entrypoint.pid1')).toEqual([]);
  });

  it('under tini as PID 1 (docker run --init) the wrapper is not PID 1 and otherwise behaves the same', () => {
    const events = (r: RunResult) => r.logs.map((l) => `${l.level} ${l.event} ${l.path ?? l.variable ?? ''}`.replace(/me-pidns-\w+/, 'ROOT'));
    const direct = run(['--root', newRoot(), '--', SERVICE], { PUID: '1000', PGID: '1000', SERVICE_EXIT_CODE: '42' });
    const underInit = run(['--root', newRoot(), '--', SERVICE], { PUID: '1000', PGID: '1000', SERVICE_EXIT_CODE: '42' }, [...PIDNS_PREFIX, 'tini', '--']);
    expectCleanRun(underInit);
    expect([direct.status, underInit.status]).toEqual([42, 42]);
    expect(byEvent(underInit.logs, 'entrypoint.start')[0].pid).toBe(2);
    expect(underInit.service.pid).toEqual(['2']);
    expect(byEvent(underInit.logs, 'entrypoint.pid1')).toEqual([]);
    expect(events(underInit)).toEqual(events(direct).filter((e) => !e.includes('entrypoint.pid1')));
    expect(underInit.service.uid).toEqual(direct.service.uid);
  });
});

describe.skipIf(unavailable)('signals', () => {
  let volume = '';
  let cleanup = () => {};
  // A fresh target uid for every run: the walk has to change every entry again.
  let nextUid = 3000;
  beforeAll(() => {
    if (!unavailable) ({ volume, cleanup } = mountBigTree(TREE_ENTRIES));
  }, 120_000);
  afterAll(() => cleanup());

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
    ['SIGQUIT', 131],
  ] as const)('%s in the middle of a 200k-entry repair walk: exit %i promptly, entrypoint.interrupted, no probe left', async (signal, code) => {
    const uid = String(nextUid++);
    const ns = startInPidNamespace([BINARY, '--root', volume, '--repair', 'always', '--', SERVICE], { env: { ...BASE, PUID: uid, PGID: uid } });
    await ns.waitFor(hasEvent('repair.start'));
    await new Promise((r) => setTimeout(r, 50));
    expect(lines(ns.output()).some((l) => l.event === 'repair.done'), 'the walk must still be running when the signal is sent').toBe(false);
    const sentAt = await ns.signalPid1(signal);
    const exit = await ns.exit;
    const latency = Math.round(exit.at - sentAt);
    console.log(`pid-namespace: ${signal} during a ${TREE_ENTRIES}-entry repair walk -> exit ${exit.code} after ${latency} ms`);
    capturedStderr.push(ns.output().stderr);
    expectCleanRun(ns.output());
    expect(exit.code).toBe(code);
    expect(latency).toBeLessThan(SIGNAL_EXIT_BOUND_MS);
    const logs = lines(ns.output());
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ event: 'entrypoint.interrupted', signal, exit_code: code });
    expect(byEvent(logs, 'entrypoint.exec')).toEqual([]);
    expect(ns.output().stdout, 'the service never started').toBe('');
    expect(probesUnder(volume)).toEqual([]);
  });

  it('SIGTERM to tini (docker run --init) during the walk reaches the wrapper: exit 143 the same way', async () => {
    const uid = String(nextUid++);
    const ns = startInPidNamespace(['tini', '--', BINARY, '--root', volume, '--repair', 'always', '--', SERVICE], { env: { ...BASE, PUID: uid, PGID: uid } });
    await ns.waitFor(hasEvent('repair.start'));
    const sentAt = await ns.signalPid1('SIGTERM');
    const exit = await ns.exit;
    console.log(`pid-namespace: SIGTERM to tini during the walk -> exit ${exit.code} after ${Math.round(exit.at - sentAt)} ms`);
    capturedStderr.push(ns.output().stderr);
    expect(exit.code).toBe(143);
    expect(exit.at - sentAt).toBeLessThan(SIGNAL_EXIT_BOUND_MS);
    expect(byEvent(lines(ns.output()), 'entrypoint.interrupted')[0]).toMatchObject({ signal: 'SIGTERM', pid: 2 });
    expect(probesUnder(volume)).toEqual([]);
  });

  it('SIGTERM after exec reaches the service own handler (the service is PID 1 now)', async () => {
    const root = newRoot();
    const service = 'trap \'echo "handler got TERM in pid $$"; exit 42\' TERM; echo ready; while :; do sleep 0.05; done';
    const ns = startInPidNamespace([BINARY, '--root', root, '--', 'sh', '-c', service], { env: { ...BASE, PUID: '1000', PGID: '1000' } });
    await ns.waitFor((o) => o.stdout.includes('ready') && hasEvent('entrypoint.exec')(o));
    await ns.signalPid1('SIGTERM');
    const exit = await ns.exit;
    capturedStderr.push(ns.output().stderr);
    expect(exit.code).toBe(42);
    expect(ns.output().stdout).toContain('handler got TERM in pid 1');
    expect(byEvent(lines(ns.output()), 'entrypoint.interrupted')).toEqual([]);
  });

  it('control: a service without a handler as PID 1 ignores SIGTERM (why the entrypoint.pid1 advice exists)', async () => {
    const root = newRoot();
    const ns = startInPidNamespace([BINARY, '--root', root, '--', 'sleep', '30'], { env: BASE });
    await ns.waitFor(hasEvent('entrypoint.exec'));
    await new Promise((r) => setTimeout(r, 100)); // let exec complete
    await ns.signalPid1('SIGTERM');
    const stillRunning = await Promise.race([ns.exit.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 300))]);
    capturedStderr.push(ns.output().stderr);
    expect(stillRunning).toBe(true);
    expect(byEvent(lines(ns.output()), 'entrypoint.pid1')).toHaveLength(1);
    await ns.signalPid1('SIGKILL');
    expect((await ns.exit).signal ?? (await ns.exit).code).toBeTruthy();
  });
});

describe.skipIf(unavailable)('two containers starting at the same moment on one volume', () => {
  const ROUNDS = 10;

  it(`both succeed on a fresh volume (${ROUNDS} rounds): every directory created once, writable by both services`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const root = newRoot();
      const dirs = [join(root, 'models'), join(root, 'models/hub'), join(root, '.cache'), join(root, '.cache/suno/bark_v0')];
      const env = { ...BASE, PUID: '1000', PGID: '1000', SERVICE_WRITE_DIRS: dirs.join(':') };
      const args = [BINARY, '--root', root, '--preset', 'hf', '--preset', 'bark', '--', SERVICE];
      const [a, b] = [startInPidNamespace(args, { env }), startInPidNamespace(args, { env })];
      const [ea, eb] = await Promise.all([a.exit, b.exit]);
      for (const [ns, e] of [[a, ea], [b, eb]] as const) {
        const o = ns.output();
        capturedStderr.push(o.stderr);
        expectCleanRun(o);
        expect([round, e.code]).toEqual([round, 0]);
        expect(byEvent(lines(o), 'dir.unwritable'), `round ${round}: ${o.stderr}`).toEqual([]);
        expect(o.stdout).not.toContain('write_failed=');
        expect(o.stdout.match(/^wrote=/gm)).toHaveLength(dirs.length);
      }
      for (const d of dirs) expect([d, lstatSync(d).uid, lstatSync(d).gid]).toEqual([d, 1000, 1000]);
      expect(probesUnder(root)).toEqual([]);
    }
  });

  it('both succeed when both walk the same root-owned tree (--repair always) at once', async () => {
    const root = newRoot();
    const models = join(root, 'models');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(models, `d${d}`), { recursive: true });
      for (let f = 0; f < 250; f++) closeSync(openSync(join(models, `d${d}`, `f${f}`), 'w'));
    }
    chownSync(models, 0, 0);
    const env = { ...BASE, PUID: '1000', PGID: '1000', SERVICE_WRITE_DIRS: models };
    const args = [BINARY, '--root', root, '--repair', 'always', '--', SERVICE];
    const [a, b] = [startInPidNamespace(args, { env }), startInPidNamespace(args, { env })];
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    for (const ns of [a, b]) capturedStderr.push(ns.output().stderr);
    expect([ea.code, eb.code]).toEqual([0, 0]);
    for (const ns of [a, b]) {
      expect(byEvent(lines(ns.output()), 'repair.errors')).toEqual([]);
      expect(ns.output().stdout).toContain(`wrote=${models}`);
    }
    const wrongOwner = (readdirSync(models, { recursive: true }) as string[]).filter((p) => lstatSync(join(models, p)).uid !== 1000);
    expect(wrongOwner).toEqual([]);
    expect(probesUnder(root)).toEqual([]);
  });
});

describe.skipIf(unavailable)('secrets', () => {
  it('the planted HF_TOKEN value appears 0 times in all the stderr this suite captured', () => {
    // One more run that puts the token in the service's argv, which the entrypoint.exec line logs.
    const r = run(['--root', newRoot(), '--', 'sh', '-c', 'exit 0', 'sh', SECRET]);
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'entrypoint.exec')[0].argv).toContain('[REDACTED]');
    const all = capturedStderr.join('\n');
    const hits = all.split(SECRET).length - 1;
    console.log(`pid-namespace: scanned ${capturedStderr.length} captured stderr streams (${all.length} bytes) for the planted HF_TOKEN: ${hits} hits`);
    expect(capturedStderr.length).toBeGreaterThan(10);
    expect(hits).toBe(0);
  });
});
