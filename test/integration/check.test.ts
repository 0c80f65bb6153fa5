// `model-entrypoint check`, the HEALTHCHECK / CI pre-start probe, run for real: exit 0 healthy and 1
// unhealthy, text and json output, probes as the user the service runs as (as root with PUID/PGID it
// probes as that user, not as root), never changes anything (tree snapshot, even where a normal start
// would create or repair), honours --min-free (and a normal start warns with dir.low_space), and is
// fast enough to run every 30 s (its duration is printed, not asserted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, byEvent, runBinary, SERVICE, snapshotTree, tempRootsPerTest, type RunOptions, type RunResult } from '../helpers/binary.js';

const SECRET = 'hf_CHECKplantedTOKEN_5521';
const PROBE = '.model-entrypoint-probe';
const HUGE = '1000T';
const durations: number[] = [];
const newRoot = tempRootsPerTest('me-check-');

/** A root whose default directories exist, owned by uid:gid, mode 755 (a started stack). */
function preparedRoot(uid = 0, gid = 0): string {
  const root = newRoot();
  for (const d of ['models', 'models/hub', '.cache']) {
    mkdirSync(join(root, d), { recursive: true });
    chownSync(join(root, d), uid, gid);
  }
  return root;
}

/** Runs check, asserting what every check run must hold: clean JSON-only stderr, nothing changed, no probe left. */
function check(root: string, args: string[] = [], opts: RunOptions = {}): RunResult {
  const before = snapshotTree(root);
  const t = performance.now();
  const r = runBinary(['check', '--root', root, ...args], { ...opts, env: { HF_TOKEN: SECRET, ...opts.env } });
  durations.push(performance.now() - t);
  expect(r.strayStderr, r.stderr).toEqual([]);
  expect(r.stderr).not.toContain(SECRET);
  expect(snapshotTree(root), 'check changes nothing').toEqual(before);
  expect((readdirSync(root, { recursive: true }) as string[]).filter((p) => p.includes(PROBE))).toEqual([]);
  expect(byEvent(r.logs, 'entrypoint.exec')).toEqual([]);
  return r;
}

/** An unhealthy check writes exactly one error line, check.unhealthy. */
function expectOneUnhealthyLine(r: RunResult): RunResult['logs'][number] {
  const errors = r.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
  expect(errors.map((l) => l.event)).toEqual(['check.unhealthy']);
  expect(String(errors[0].hint).length).toBeGreaterThan(10);
  return errors[0];
}

beforeAll(() => assertBuilt());
afterAll(() => {
  if (durations.length === 0) return;
  const sorted = [...durations].sort((a, b) => a - b);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`check: ${durations.length} runs of the built binary, wall time median ${ms(sorted[Math.floor(sorted.length / 2)])}, max ${ms(sorted[sorted.length - 1])} (HEALTHCHECK interval: 30 s)`);
});

describe('check: healthy and unhealthy', () => {
  it('healthy: exit 0, text lists every directory as ok, nothing on stderr', () => {
    const root = preparedRoot();
    const r = check(root);
    expect(r.status).toBe(0);
    for (const d of ['models', 'models/hub', '.cache']) expect(r.stdout).toMatch(new RegExp(`^ok\\s+${join(root, d).replace(/[.]/g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(/^healthy: 3 directories checked as uid 0 gid 0$/m);
    expect(r.logs, 'a healthy check keeps the health log empty').toEqual([]);
  });

  it('healthy, --format json: one document with healthy=true and a report per directory', () => {
    const root = preparedRoot();
    const args = ['--format', 'json', '--preset', 'hf', '--preset', 'bark'];
    // bark's directory does not exist yet: that alone makes it unhealthy. Create it and check again.
    expect(check(root, args).status).toBe(1);
    mkdirSync(join(root, '.cache/suno/bark_v0'), { recursive: true });
    const ok = check(root, args);
    expect(ok.status).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(doc.healthy).toBe(true);
    expect(doc.service_user).toEqual({ uid: 0, gid: 0 });
    expect(doc.directories.map((d: { path: string }) => d.path).sort()).toEqual([join(root, '.cache'), join(root, '.cache/suno/bark_v0'), join(root, 'models'), join(root, 'models/hub')].sort());
    for (const d of doc.directories) {
      expect(d).toMatchObject({ exists: true, readable: true, writable: true, created: false });
      expect(typeof d.free_bytes).toBe('number');
    }
  });

  it('unhealthy: missing directories are exit 1, reported, and NOT created (check never prepares)', () => {
    const root = newRoot();
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^FAIL ${join(root, 'models')}: .*does not exist`, 'm'));
    expect(r.stdout).toMatch(/^unhealthy: 3 directories checked/m);
    const line = expectOneUnhealthyLine(r);
    expect(line.paths).toEqual([join(root, 'models'), join(root, '.cache'), join(root, 'models/hub')]);
    expect(line.error_codes).toEqual(['ENOENT', 'ENOENT', 'ENOENT']);
  });

  it('unhealthy, --format json: healthy=false with the error code, meaning and fix per directory', () => {
    const root = preparedRoot();
    chmodSync(join(root, 'models/hub'), 0o555);
    const r = check(root, ['--format', 'json'], { asUser: { uid: 1000, gid: 1000 } });
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.healthy).toBe(false);
    const hub = doc.directories.find((d: { path: string }) => d.path === join(root, 'models/hub'));
    expect(hub).toMatchObject({ writable: false, error_code: 'EACCES', user_id: 0, permissions: '555' });
    expect(hub.hint).toMatch(/chown -R 1000:1000/);
    expectOneUnhealthyLine(r);
  });
});

describe('check probes as the user the service runs as', () => {
  it('as root with PUID/PGID=1000: a root-owned 755 directory is unhealthy (root itself could write there)', () => {
    const root = preparedRoot(0, 0);
    expect(check(root).status, 'as root without a target user it is healthy').toBe(0);
    const r = check(root, ['--format', 'json'], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.service_user).toEqual({ uid: 1000, gid: 1000 });
    for (const d of doc.directories) expect(d).toMatchObject({ writable: false, error_code: 'EACCES', user_id: 0, permissions: '755' });
    expect(expectOneUnhealthyLine(r).msg).toContain('not writable by uid 1000 gid 1000');
  });

  it('as root with PUID/PGID=1000: directories owned by 1000 are healthy', () => {
    const root = preparedRoot(1000, 1000);
    const r = check(root, [], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^healthy: 3 directories checked as uid 1000 gid 1000$/m);
  });

  it('as root with --user 1000:1000 and --repair always: still no repair, only the verdict', () => {
    const root = preparedRoot(0, 0);
    const r = check(root, ['--user', '1000:1000', '--repair', 'always']);
    expect(r.status).toBe(1);
    expect(byEvent(r.logs, 'repair.start')).toEqual([]);
  });

  it('started as uid 1000 (setpriv, as with `user: 1000:1000`): probes as itself', () => {
    const root = preparedRoot(1000, 1000);
    chownSync(join(root, '.cache'), 0, 0);
    const r = check(root, [], { asUser: { uid: 1000, gid: 1000 } });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^ok\\s+${join(root, 'models')}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^FAIL ${join(root, '.cache').replace('.', '\\.')}: .*uid 1000`, 'm'));
    expect(expectOneUnhealthyLine(r).paths).toEqual([join(root, '.cache')]);
  });
});

describe('free space (--min-free)', () => {
  it('a huge --min-free makes check unhealthy, naming the free bytes; a small one is healthy', () => {
    const root = preparedRoot();
    const r = check(root, ['--min-free', HUGE, '--format', 'json']);
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.min_free_bytes).toBe(1000 * 1024 ** 4);
    for (const d of doc.directories) {
      expect(d.low_space).toBe(true);
      expect(d.writable).toBe(true);
      expect(d.free_bytes).toBeLessThan(doc.min_free_bytes);
    }
    expect(expectOneUnhealthyLine(r).error_codes).toEqual(['LOW_SPACE', 'LOW_SPACE', 'LOW_SPACE']);
    expect(check(root, ['--min-free', '1K']).status).toBe(0);
  });

  it('MODEL_ENTRYPOINT_MIN_FREE works the same from the environment', () => {
    const root = preparedRoot();
    const r = check(root, [], { env: { MODEL_ENTRYPOINT_MIN_FREE: HUGE } });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/only \d+ bytes free/);
  });

  it('during a normal start a low free space is a dir.low_space warning per directory, and the service still starts', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--min-free', HUGE, '--', SERVICE], { env: { HF_TOKEN: SECRET } });
    expect(r.strayStderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.service.uid).toEqual(['0']);
    const low = byEvent(r.logs, 'dir.low_space');
    expect(low.map((l) => l.path).sort()).toEqual([join(root, '.cache'), join(root, 'models'), join(root, 'models/hub')].sort());
    for (const l of low) {
      expect(l).toMatchObject({ level: 'warn', min_free_bytes: 1000 * 1024 ** 4 });
      expect(l.free_bytes as number).toBeLessThan(1000 * 1024 ** 4);
      expect(String(l.hint)).toMatch(/free space/);
    }
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a bad --min-free is a usage error (125), not an unhealthy verdict', () => {
    const root = preparedRoot();
    const r = check(root, ['--min-free', 'lots']);
    expect(r.status).toBe(125);
    expect(r.logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['--min-free: "lots" is not a size']);
  });
});
