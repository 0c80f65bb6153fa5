import { describe, expect, it } from 'vitest';
import { Volume } from 'memfs';
import { makePlan, type PlanInputs } from '../../src/planner.js';
import { observeDir, type ObserveFs } from '../../src/facts.js';
import { parseCommandLine } from '../../src/options.js';
import { planToJson, planToText } from '../../src/render.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\n';

/** A memfs volume with /app owned by root, mode 755, and an executable /usr/bin/python. */
function volume(setup?: (v: InstanceType<typeof Volume>) => void) {
  const vol = Volume.fromJSON({ '/usr/bin/python': '#!', '/app/.keep': '' });
  vol.chmodSync('/usr/bin/python', 0o755);
  vol.chmodSync('/app', 0o755);
  setup?.(vol);
  return vol;
}

function plan(argv: string[], env: Record<string, string>, runningAs = { uid: 0, gid: 0, groups: [0] }, vol = volume()) {
  const fs = vol as unknown as ObserveFs;
  const inputs: PlanInputs = {
    options: parseCommandLine({ argv, env, readFile: () => '' }),
    env: { PATH: '/usr/bin', ...env },
    runningAs,
    userDb: { passwd: PASSWD, group: GROUP },
    cwd: '/',
    observeDir: (p) => observeDir(fs, p, { ancestors: true }),
    lookCommand: (p) => {
      try {
        const st = vol.statSync(p);
        return { kind: st.isDirectory() ? 'directory' : 'file', executable: (Number(st.mode) & 0o111) !== 0 };
      } catch {
        return { kind: 'missing', executable: false };
      }
    },
  };
  return makePlan(inputs);
}

describe('makePlan', () => {
  it('plans the hf and bark directories, parents before children, each created once', () => {
    const p = plan(['--preset', 'hf', '--preset', 'bark', 'python'], { PUID: '1000', PGID: '1000' });
    expect(p.dirs.map((d) => d.path)).toEqual(['/app/models', '/app/.cache', '/app/models/hub', '/app/.cache/suno/bark_v0']);
    expect(p.dirs.map((d) => d.action)).toEqual(['create', 'create', 'create', 'create']);
    expect(p.dirs[3].facts.missing).toEqual(['/app/.cache/suno', '/app/.cache/suno/bark_v0']);
    expect(p.dirs[2].facts.missing).toEqual(['/app/models/hub']);
    expect(p.dirs.every((d) => d.chownCreatedTo?.uid === 1000)).toBe(true);
    expect(p.user).toMatchObject({ action: 'switch', target: { uid: 1000, gid: 1000, home: '/home/app', name: 'app' } });
    expect(p.command).toMatchObject({ path: '/usr/bin/python' });
  });

  it('uses $TORCH_HOME for the torch preset', () => {
    const p = plan(['--preset', 'torch', 'python'], { TORCH_HOME: '/data/torch' });
    expect(p.dirs.map((d) => d.path)).toContain('/data/torch');
  });

  it('predicts a root-owned 755 directory unwritable for uid 1000 and names the fix', () => {
    const vol = volume((v) => v.mkdirSync('/app/models', { mode: 0o755 }));
    const p = plan(['python'], {}, { uid: 1000, gid: 1000, groups: [1000] }, vol);
    const models = p.dirs.find((d) => d.path === '/app/models')!;
    expect(models.predictedWritable).toBe(false);
    expect(models.problem?.message).toMatch(/not writable by uid 1000 gid 1000: it is owned by 0:0 with mode 755/);
    expect(models.problem?.hint).toMatch(/PUID=1000 PGID=1000/);
    expect(models.problem?.hint).toMatch(/fix-permissions --user 1000:1000/);
  });

  it('walks a root-owned tree only on mismatch (on-root-mismatch) and always with always', () => {
    const vol = volume((v) => {
      v.mkdirSync('/app/models');
      v.mkdirSync('/app/.cache');
      v.chownSync('/app/.cache', 1000, 1000);
    });
    const p = plan(['python'], { PUID: '1000', PGID: '1000' }, undefined, vol);
    expect(p.dirs.find((d) => d.path === '/app/models')!.repair).toBe('walk');
    expect(p.dirs.find((d) => d.path === '/app/.cache')!.repair).toBe('none');
    const always = plan(['--repair', 'always', 'python'], { PUID: '1000', PGID: '1000' }, undefined, vol);
    expect(always.dirs.find((d) => d.path === '/app/.cache')!.repair).toBe('walk');
    const never = plan(['--repair', 'never', 'python'], { PUID: '1000', PGID: '1000' }, undefined, vol);
    expect(never.dirs.every((d) => d.repair === 'none')).toBe(true);
  });

  it('never walks a directory reached through a symlink (a planted link must not re-own its target)', () => {
    const vol = volume((v) => {
      v.mkdirSync('/app/code');
      v.mkdirSync('/app/models');
      v.chownSync('/app/models', 1000, 1000);
      v.symlinkSync('/app/code', '/app/models/hub');
    });
    const p = plan(['--repair', 'always', 'python'], { PUID: '1000', PGID: '1000' }, undefined, vol);
    const hub = p.dirs.find((d) => d.path === '/app/models/hub')!;
    expect(hub.repair).toBe('none');
    expect(hub.repairReason).toMatch(/symbolic link \(to \/app\/code\)/);
    expect(p.dirs.find((d) => d.path === '/app/models')!.repair).toBe('walk');
  });

  it('leaves a shared sticky directory such as /tmp alone (XDG_CACHE_HOME=/tmp)', () => {
    const vol = volume((v) => {
      v.mkdirSync('/tmp');
      v.chmodSync('/tmp', 0o1777);
    });
    const p = plan(['python'], { PUID: '1000', PGID: '1000', XDG_CACHE_HOME: '/tmp' }, undefined, vol);
    const tmp = p.dirs.find((d) => d.path === '/tmp')!;
    expect(tmp.repair).toBe('none');
    expect(tmp.predictedWritable).toBe(true);
  });

  it('names the ancestor the service user cannot search, not the directory itself', () => {
    const vol = volume((v) => {
      v.mkdirSync('/srv/priv/x', { recursive: true });
      v.chmodSync('/srv/priv', 0o700);
      v.chownSync('/srv/priv/x', 1000, 1000);
    });
    const p = plan(['--dir', '/srv/priv/x', 'python'], {}, { uid: 1000, gid: 1000, groups: [1000] }, vol);
    const x = p.dirs.find((d) => d.path === '/srv/priv/x')!;
    expect(x.predictedWritable).toBe(false);
    expect(x.problem?.message).toMatch(/\/srv\/priv \(owned by 0:0 with mode 700\) does not let it search/);
    expect(x.problem?.hint).toMatch(/chmod o\+x \/srv\/priv/);
  });

  it('marks a file in place of a directory as fatal', () => {
    const vol = volume((v) => v.writeFileSync('/app/models', 'oops'));
    const d = plan(['python'], {}, undefined, vol).dirs.find((x) => x.path === '/app/models')!;
    expect(d.action).toBe('fail');
    expect(d.problem).toMatchObject({ code: 'ENOTDIR', fatal: true });
  });

  it('warns and stays when not root but another user is asked for', () => {
    const p = plan(['python'], { PUID: '1000' }, { uid: 2000, gid: 2000, groups: [] });
    expect(p.user.action).toBe('ignored');
    expect(p.user.warning).toMatch(/going on as uid 2000/);
    expect(p.service.uid).toBe(2000);
  });

  it('warns when a uid without passwd entry and without group would keep group 0', () => {
    expect(plan(['python'], { PUID: '4242' }).user.warning).toMatch(/runs with group 0 \(root\).*PGID/);
    expect(plan(['python'], { PUID: '4242', PGID: '4242' }).user.warning).toBeUndefined();
    expect(plan(['python'], { PUID: '1000' }).user.warning).toBeUndefined();
  });

  it('gives HOME=$ROOT to a uid without a passwd entry', () => {
    const p = plan(['python'], { PUID: '4242', PGID: '4242' });
    expect(p.service.home).toBe('/app');
    expect(p.serviceEnv.HOME).toBe('/app');
  });

  it('reports 127 for a missing command and 126 for a directory', () => {
    expect(plan(['nope'], {}).command?.error?.exitCode).toBe(127);
    expect(plan(['/app'], {}).command?.error?.exitCode).toBe(126);
  });

  it('renders the same plan as JSON and text without secret values', () => {
    const p = plan(['python', '--token', 'hf_should_not_matter'], { HF_TOKEN: 'hf_secret_value' });
    const json = planToJson(p);
    expect(json.schema_version).toBe(1);
    expect(json.directories).toHaveLength(3);
    expect(JSON.stringify(json)).not.toContain('hf_secret_value');
    expect(planToText(p)).toContain('/app/models/hub');
  });
});
