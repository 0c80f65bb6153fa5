// The main job, for real: the built executable, run as root or as uid 1000, on real directories.
import { beforeAll, describe, expect, it } from 'vitest';
import { chownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, byEvent, runBinary, SERVICE, snapshotTree, tempRootsPerTest, type RunResult } from '../helpers/binary.js';

const SECRET = 'hf_PLANTEDsecretVALUE_4242';
const newRoot = tempRootsPerTest();

beforeAll(() => assertBuilt());

function expectCleanStderr(r: RunResult) {
  expect(r.strayStderr, 'only JSON log lines on stderr (no ExperimentalWarning, no stack)').toEqual([]);
  expect(r.stderr).not.toContain(SECRET);
  expect(r.stdout.includes('ExperimentalWarning')).toBe(false);
}

describe('fresh root-owned volume, started as root with PUID/PGID=1000', () => {
  it('creates every directory as 1000:1000 and the service runs as 1000 and writes everywhere', () => {
    const root = newRoot();
    const bark = join(root, '.cache/suno/bark_v0');
    const r = runBinary(['--root', root, '--preset', 'hf', '--preset', 'bark', '--preset', 'torch', '--', SERVICE, 'serve'], {
      env: { PUID: '1000', PGID: '1000', HF_TOKEN: SECRET, SERVICE_WRITE_DIRS: [join(root, 'models'), join(root, 'models/hub'), bark, join(root, '.cache/torch')].join(':') },
    });
    expectCleanStderr(r);
    expect(r.status).toBe(0);
    expect(r.service.uid).toEqual(['1000']);
    expect(r.service.gid).toEqual(['1000']);
    expect(r.service.write_failed).toBeUndefined();
    expect(r.service.wrote).toHaveLength(4);
    expect(r.service['env.HF_HOME']).toEqual([join(root, 'models')]);
    expect(r.service['env.XDG_CACHE_HOME']).toEqual([join(root, '.cache')]);
    expect(r.service.args).toEqual(['serve']);
    for (const p of ['models', 'models/hub', '.cache', '.cache/suno', '.cache/suno/bark_v0', '.cache/torch']) {
      const st = statSync(join(root, p));
      expect([p, st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([p, 1000, 1000, '755']);
    }
    const ready = byEvent(r.logs, 'dir.ready');
    expect(ready.map((l) => l.path).sort()).toEqual([join(root, '.cache'), join(root, '.cache/suno/bark_v0'), join(root, '.cache/torch'), join(root, 'models'), join(root, 'models/hub')].sort());
    for (const l of ready) {
      expect(l).toMatchObject({ exists: true, readable: true, writable: true, user_id: 1000, group_id: 1000, permissions: '755', phase: 'prepare' });
      expect(typeof l.free_bytes).toBe('number');
      expect(typeof l.duration_ms).toBe('number');
    }
    expect(byEvent(r.logs, 'user.switched')[0]).toMatchObject({ uid: 1000, gid: 1000 });
    expect(byEvent(r.logs, 'entrypoint.exec')).toHaveLength(1);
    // No probe file is left behind anywhere.
    for (const p of ['models', 'models/hub', '.cache/suno/bark_v0']) expect(readdirSync(join(root, p)).filter((n) => n.includes('probe'))).toEqual([]);
  });

  it('the service keeps the PID of the wrapper (exec, not spawn)', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', SERVICE], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    expect(byEvent(r.logs, 'entrypoint.start')[0].pid).toBe(Number(r.service.pid[0]));
  });

  it('passes the service exit code through', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', SERVICE], { env: { SERVICE_EXIT_CODE: '42' } });
    expect(r.status).toBe(42);
  });
});

describe('ownership repair as root', () => {
  it('does not follow a symlink planted at a prepared path: its target keeps its owner', () => {
    const root = newRoot();
    const code = join(root, 'appcode');
    mkdirSync(code);
    writeFileSync(join(code, 'server.py'), 'print(1)');
    mkdirSync(join(root, 'models'));
    chownSync(join(root, 'models'), 1000, 1000);
    symlinkSync(code, join(root, 'models/hub'));
    const r = runBinary(['--root', root, '--repair', 'always', '--', SERVICE], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    expect(statSync(join(code, 'server.py')).uid).toBe(0);
    expect(statSync(code).uid).toBe(0);
    expect(byEvent(r.logs, 'repair.start').map((l) => l.path)).not.toContain(join(root, 'models/hub'));
  });
});

describe('service started as uid 1000 (setpriv) over a root-owned directory', () => {
  function rootOwnedModels() {
    const root = newRoot();
    mkdirSync(join(root, 'models'), { mode: 0o755 });
    mkdirSync(join(root, '.cache'), { mode: 0o755 });
    chownSync(join(root, '.cache'), 1000, 1000);
    return root;
  }

  it('reports writable=false, user_id=0, permissions 755 with the remediation, and still starts the service', () => {
    const root = rootOwnedModels();
    const r = runBinary(['--root', root, '--', SERVICE], { asUser: { uid: 1000, gid: 1000 }, env: { SERVICE_WRITE_DIRS: join(root, 'models'), HF_TOKEN: SECRET } });
    expectCleanStderr(r);
    expect(r.status).toBe(0);
    expect(r.service.uid).toEqual(['1000']);
    const bad = byEvent(r.logs, 'dir.unwritable').find((l) => l.path === join(root, 'models'));
    expect(bad).toMatchObject({ level: 'warn', exists: true, readable: true, writable: false, user_id: 0, group_id: 0, permissions: '755', error_code: 'EACCES' });
    expect(String(bad?.error_meaning)).toMatch(/permission denied/);
    expect(String(bad?.hint)).toMatch(/chown -R 1000:1000/);
    expect(String(bad?.hint)).toMatch(/PUID=1000 PGID=1000/);
    expect(r.service.write_failed).toEqual([join(root, 'models')]);
    expect(byEvent(r.logs, 'dir.ready').map((l) => l.path)).toContain(join(root, '.cache'));
  });

  it('with --strict exits 125 with one error line and does not start the service', () => {
    const root = rootOwnedModels();
    const r = runBinary(['--strict', '--root', root, '--', SERVICE], { asUser: { uid: 1000, gid: 1000 } });
    expect(r.status).toBe(125);
    expect(r.service.uid).toBeUndefined();
    const errors = r.logs.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.event)).toContain('entrypoint.strict_failed');
    expect(errors.find((l) => l.event === 'entrypoint.strict_failed')?.msg).toContain(join(root, 'models'));
  });

  it('warns and goes on as itself when asked for another user without being root', () => {
    const root = rootOwnedModels();
    chownSync(join(root, 'models'), 1000, 1000);
    const r = runBinary(['--root', root, '--', SERVICE], { asUser: { uid: 1000, gid: 1000 }, env: { PUID: '2000', PGID: '2000' } });
    expect(r.status).toBe(0);
    expect(r.service.uid).toEqual(['1000']);
    expect(byEvent(r.logs, 'user.not_switched')[0]?.level).toBe('warn');
  });
});

describe('environment', () => {
  it('migrates TRANSFORMERS_CACHE into HF_HUB_CACHE, so models are found where they are, and unsets it', () => {
    const root = newRoot();
    const legacy = join(root, 'legacy-cache');
    mkdirSync(join(legacy, 'models--google--flan-t5-small'), { recursive: true });
    const r = runBinary(['--root', root, '--', SERVICE], { env: { TRANSFORMERS_CACHE: legacy, PYTORCH_PRETRAINED_BERT_CACHE: '/elsewhere' } });
    expect(r.status).toBe(0);
    expect(r.service['env.HF_HUB_CACHE']).toEqual([legacy]);
    expect(r.service['env.TRANSFORMERS_CACHE']).toEqual(['<unset>']);
    expect(r.service['env.PYTORCH_PRETRAINED_BERT_CACHE']).toEqual(['<unset>']);
    expect(byEvent(r.logs, 'env.migrated')[0]).toMatchObject({ variable: 'HF_HUB_CACHE', value: legacy, from: 'TRANSFORMERS_CACHE' });
    expect(byEvent(r.logs, 'env.unset').map((l) => l.variable).sort()).toEqual(['PYTORCH_PRETRAINED_BERT_CACHE', 'TRANSFORMERS_CACHE']);
    expect(byEvent(r.logs, 'dir.ready').map((l) => l.path)).toContain(legacy);
  });

  it('keeps the user PYTHONWARNINGS filters and adds the pkg_resources filter', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', SERVICE], { env: { PYTHONWARNINGS: 'error::RuntimeWarning' } });
    expect(r.service['env.PYTHONWARNINGS']?.[0]).toMatch(/^ignore:pkg_resources is deprecated as an API,.*,error::RuntimeWarning$/);
  });

  it('ignores NODE_OPTIONS: no code can be injected into the binary', () => {
    const root = newRoot();
    const marker = join(root, 'injected');
    const inject = join(root, 'inject.js');
    writeFileSync(inject, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned')`);
    const r = runBinary(['--root', root, '--', SERVICE], { env: { NODE_OPTIONS: `--require ${inject}` } });
    expect(r.status).toBe(0);
    expect(() => statSync(marker)).toThrow();
    expect(r.strayStderr).toEqual([]);
  });
});

describe('--print-plan', () => {
  it('changes nothing on disk and shows the sources and the resolved command', () => {
    const root = newRoot();
    mkdirSync(join(root, 'models'));
    const before = snapshotTree(root);
    const r = runBinary(['--print-plan', '--root', root, '--preset', 'bark', '--', 'sh', '-c', 'true'], { env: { PUID: '1000', PGID: '1000', TRANSFORMERS_CACHE: join(root, 'tc'), HF_TOKEN: SECRET } });
    expect(r.status).toBe(0);
    expect(snapshotTree(root)).toEqual(before);
    expect(r.stdout).toContain(`root             "${root}"  <- flag (--root)`);
    expect(r.stdout).toContain('user             "1000:1000"  <- env (PUID, PGID)');
    expect(r.stdout).toMatch(/migrated\s+HF_HUB_CACHE=.*\(from TRANSFORMERS_CACHE\)/);
    expect(r.stdout).toContain('Resolved:     /usr/bin/sh');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('--format json is one document with the planned actions', () => {
    const root = newRoot();
    const before = snapshotTree(root);
    const r = runBinary(['--print-plan', '--format', 'json', '--root', root, '--', 'true'], { env: { PUID: '1000', PGID: '1000' } });
    expect(r.status).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.schema_version).toBe(1);
    expect(plan.user).toMatchObject({ action: 'switch', spec: '1000:1000' });
    expect(plan.directories.map((d: { path: string; action: string }) => [d.path, d.action])).toEqual([
      [join(root, 'models'), 'create'],
      [join(root, '.cache'), 'create'],
      [join(root, 'models/hub'), 'create'],
    ]);
    expect(plan.command.resolved).toBe('/usr/bin/true');
    expect(snapshotTree(root)).toEqual(before);
  });
});

describe('command failures', () => {
  it('127 when the command is not found, with one error line naming it', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', 'no-such-model-server']);
    expect(r.status).toBe(127);
    const errors = r.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toContain('no-such-model-server');
    expectCleanStderr(r);
  });

  it('126 when the command is not executable, is a directory, or has no #! line', () => {
    const root = newRoot();
    const noExec = join(root, 'serve.sh');
    writeFileSync(noExec, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const noShebang = join(root, 'noshebang');
    writeFileSync(noShebang, 'echo hi\n', { mode: 0o755 });
    for (const cmd of [noExec, root, noShebang]) {
      const r = runBinary(['--root', root, '--', cmd]);
      expect([cmd, r.status]).toEqual([cmd, 126]);
      const errors = r.logs.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0].msg).toContain(cmd);
      expectCleanStderr(r);
    }
  });
});

describe('log levels never hide the failure', () => {
  it('LOG_LEVEL=silent still writes the one error line of a failing exit', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', 'no-such-model-server'], { env: { LOG_LEVEL: 'silent' } });
    expect(r.status).toBe(127);
    expect(r.logs.map((l) => l.level)).toEqual(['error']);
  });

  it('does not log secret-looking command arguments', () => {
    const root = newRoot();
    const r = runBinary(['--root', root, '--', SERVICE, '--token', 'tok_abcdef123456', '--api-key=key_abcdef123456']);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('tok_abcdef123456');
    expect(r.stderr).not.toContain('key_abcdef123456');
    expect(byEvent(r.logs, 'entrypoint.exec')[0].argv).toEqual([SERVICE, '--token', '[REDACTED]', '--api-key=[REDACTED]']);
  });
});
