// `model-entrypoint fix-permissions`: the host step that replaces `chown -R` in a Makefile.
import { beforeAll, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, byEvent, runBinary, snapshotTree, tempRootsPerTest } from '../helpers/binary.js';

const newRoot = tempRootsPerTest('me-fix-');
beforeAll(() => assertBuilt());

const owner = (p: string) => `${lstatSync(p).uid}:${lstatSync(p).gid}`;

describe('fix-permissions', () => {
  it('creates missing folders and repairs root-owned trees to 1000:1000 by default: exit 0', () => {
    const root = newRoot();
    mkdirSync(join(root, 'services/models/bark/suno'), { recursive: true });
    writeFileSync(join(root, 'services/models/bark/suno/model.pt'), 'w', { mode: 0o600 });
    symlinkSync('/etc/passwd', join(root, 'services/models/bark/link'));
    const r = runBinary(['fix-permissions', 'services/models/bark', 'services/models/stt'], { cwd: root });
    expect(r.status).toBe(0);
    for (const p of ['services/models/bark', 'services/models/bark/suno', 'services/models/bark/suno/model.pt', 'services/models/bark/link', 'services/models/stt']) {
      expect([p, owner(join(root, p))]).toEqual([p, '1000:1000']);
    }
    expect(owner('/etc/passwd')).toBe('0:0'); // the symlink was not followed
    expect(statSync(join(root, 'services/models/bark/suno/model.pt')).mode & 0o777).toBe(0o600); // file modes kept
    const done = byEvent(r.logs, 'fix_permissions.done')[0];
    expect(done).toMatchObject({ level: 'info', directories: 2, errors: 0, user_id: 1000, group_id: 1000 });
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('takes --user after the folders and leaves an already right tree alone', () => {
    const root = newRoot();
    mkdirSync(join(root, 'models'));
    const first = runBinary(['fix-permissions', join(root, 'models'), '--user', '2000:2001']);
    expect(first.status).toBe(0);
    expect(owner(join(root, 'models'))).toBe('2000:2001');
    const again = runBinary(['fix-permissions', '--user', '2000:2001', join(root, 'models')]);
    expect(again.status).toBe(0);
    expect(byEvent(again.logs, 'fix_permissions.done')[0].changed).toBe(0);
  });

  it('--print-plan shows the work and changes nothing', () => {
    const root = newRoot();
    mkdirSync(join(root, 'models'));
    const before = snapshotTree(root);
    const r = runBinary(['fix-permissions', '--print-plan', join(root, 'models'), join(root, 'missing')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('repair ownership');
    expect(r.stdout).toContain(`create ${join(root, 'missing')} as 1000:1000`);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('exits 1 with one error line when a folder cannot be fixed (read-only mount)', () => {
    const root = newRoot();
    const ro = join(root, 'ro');
    mkdirSync(ro);
    writeFileSync(join(ro, 'f'), '');
    const wrap = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${ro} ${ro} && mount -o remount,ro,bind ${ro} && exec "$@"`, 'sh'];
    const r = runBinary(['fix-permissions', ro], { wrap });
    expect(r.status).toBe(1);
    const errors = r.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].event).toBe('fix_permissions.done');
    expect(byEvent(r.logs, 'repair.errors')[0]).toMatchObject({ error_code: 'EROFS' });
    expect(owner(join(ro, 'f'))).toBe('0:0');
  });

  it.each([
    [['fix-permissions', '/etc'], /refusing to change ownership of \/etc/],
    [['fix-permissions', '/usr/local/../share'], /refusing/],
    [['fix-permissions'], /needs at least one DIR/],
    [['fix-permissions', '/x', '--usr', '1'], /unknown option --usr/],
    [['fix-permissions', '--user', 'nosuchuser', '/x'], /nosuchuser/],
  ])('%j is bad input: exit 125, nothing changed', (args, message) => {
    const root = newRoot();
    const before = snapshotTree(root);
    const r = runBinary(args as string[], { cwd: root });
    expect(r.status).toBe(125);
    const errors = r.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(message);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('a DIR that is a file is bad input: exit 125', () => {
    const root = newRoot();
    writeFileSync(join(root, 'models'), 'not a dir');
    const r = runBinary(['fix-permissions', join(root, 'models')]);
    expect(r.status).toBe(125);
    expect(r.logs.filter((l) => l.level === 'error')[0].msg).toContain(join(root, 'models'));
  });
});
