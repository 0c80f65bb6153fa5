import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EntrypointError } from '../../src/errors.js';
import { readUserDb, resolveUserSpec, specFromPuidPgid, type UserDb } from '../../src/users.js';

// The same shapes as the gosu differential fixture: several supplementary groups, a group-less user,
// a user whose name looks like a number, two entries sharing a uid, an entry without home.
const db: UserDb = {
  passwd: [
    'root:x:0:0:root:/root:/bin/bash',
    '# a comment line is not a user',
    'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
    '  bob:x:1001:1001::/home/bob:/bin/sh  ',
    '2000:x:3000:3000:numeric name:/home/n2000:/bin/sh',
    'dup:x:1500:1500::/home/dup1:/bin/sh',
    'dup2:x:1500:1600::/home/dup2:/bin/sh',
    'loner:x:1700:1700::/home/loner:/bin/sh',
    'nohome:x:1800:1800:::/bin/sh',
    'big:x:3000000000:3000000000::/home/big:/bin/sh',
    '',
  ].join('\n'),
  group: [
    'root:x:0:',
    'alice:x:1000:',
    'video:x:44:alice,bob',
    'audio:x:29:alice',
    'render:x:105:alice,2000',
    'models:x:5000:alice,dup',
    '5000:x:6000:',
    'huge:x:3000000000:',
  ].join('\n'),
};
const asRoot = { uid: 0, gid: 0 };

function failure(run: () => unknown): EntrypointError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(EntrypointError);
    return err as EntrypointError;
  }
  throw new Error('expected an EntrypointError, nothing was thrown');
}

describe('resolveUserSpec: every form, as gosu resolves it', () => {
  it.each([
    // spec, uid, gid, supplementary groups (in /etc/group order), home, name
    ['alice', 1000, 1000, [44, 29, 105, 5000], '/home/alice', 'alice'],
    ['1000', 1000, 1000, [44, 29, 105, 5000], '/home/alice', 'alice'],
    ['01000', 1000, 1000, [44, 29, 105, 5000], '/home/alice', 'alice'],
    ['1000:', 1000, 1000, [44, 29, 105, 5000], '/home/alice', 'alice'],
    ['bob', 1001, 1001, [44], '/home/bob', 'bob'],
    ['loner', 1700, 1700, [], '/home/loner', 'loner'],
    ['alice:video', 1000, 44, [], '/home/alice', 'alice'],
    ['alice:44', 1000, 44, [], '/home/alice', 'alice'],
    ['1000:video', 1000, 44, [], '/home/alice', 'alice'],
    ['1000:9999', 1000, 9999, [], '/home/alice', 'alice'],
    ['4242', 4242, 0, [], undefined, undefined],
    ['4242:', 4242, 0, [], undefined, undefined],
    ['4242:4343', 4242, 4343, [], undefined, undefined],
    ['4242:video', 4242, 44, [], undefined, undefined],
    [':44', 0, 44, [], '/root', 'root'],
    [':video', 0, 44, [], '/root', 'root'],
    // digits are always an id, never a name: "2000" is uid 2000 (no entry), not the user named 2000
    ['2000', 2000, 0, [], undefined, undefined],
    ['3000', 3000, 3000, [105], '/home/n2000', '2000'],
    [':5000', 0, 5000, [], '/root', 'root'],
    // first entry wins for a shared uid; a name picks its own entry
    ['1500', 1500, 1500, [5000], '/home/dup1', 'dup'],
    ['dup2', 1500, 1600, [], '/home/dup2', 'dup2'],
    ['nohome', 1800, 1800, [], undefined, 'nohome'],
    ['2147483647', 2147483647, 0, [], undefined, undefined],
    // above gosu's numeric limit only when the database knows the id
    ['3000000000', 3000000000, 3000000000, [], '/home/big', 'big'],
    ['1000:3000000000', 1000, 3000000000, [], '/home/alice', 'alice'],
  ] as const)('%s', (spec, uid, gid, groups, home, name) => {
    expect(resolveUserSpec(spec, db, asRoot)).toEqual({ spec, uid, gid, groups: [...groups], home, name });
  });

  it('fills the unspecified parts from the caller, not from root', () => {
    expect(resolveUserSpec('4242', db, { uid: 1000, gid: 1000 })).toMatchObject({ uid: 4242, gid: 1000, groups: [] });
    expect(resolveUserSpec(':44', db, { uid: 1000, gid: 1000 })).toMatchObject({ uid: 1000, gid: 44, groups: [], name: 'alice' });
    expect(resolveUserSpec(':44', db, { uid: 7777, gid: 7777 })).toEqual({ spec: ':44', uid: 7777, gid: 44, groups: [] });
  });

  it('skips malformed lines instead of reading their ids as 0 (gosu would make these root)', () => {
    const corrupt: UserDb = {
      passwd: 'bad:x:abc:1900::/home/bad:/bin/sh\n+::::::\nalice:x:1000:1000::/home/alice:/bin/sh\n',
      group: 'weird:x:xyz:alice\nvideo:x:44:alice\n',
    };
    expect(failure(() => resolveUserSpec('bad', corrupt, asRoot)).message).toContain('"bad"');
    expect(failure(() => resolveUserSpec('alice:weird', corrupt, asRoot)).message).toContain('"weird"');
    expect(resolveUserSpec('alice', corrupt, asRoot).groups).toEqual([44]);
  });

  it('works with an empty database: ids only', () => {
    expect(resolveUserSpec('1000:1000', { passwd: '', group: '' }, asRoot)).toEqual({ spec: '1000:1000', uid: 1000, gid: 1000, groups: [] });
    expect(failure(() => resolveUserSpec('alice', { passwd: '', group: '' }, asRoot)).exitCode).toBe(125);
  });
});

describe('resolveUserSpec: refusals name the spec and the bad part', () => {
  it.each([
    ['', 'names no user and no group', 'user'],
    [':', 'names no user and no group', 'user'],
    ['alice:video:extra', 'more than one ":"', 'group'],
    ['nosuch', '"nosuch" is neither a decimal uid nor a user name', 'user'],
    ['nosuch:44', '"nosuch" is neither', 'user'],
    ['alice:nosuch', '"nosuch" is neither a decimal gid nor a group name', 'group'],
    ['-1', 'uid -1 is negative', 'user'],
    ['1000:-1', 'gid -1 is negative', 'group'],
    ['+1000', 'uid "+1000" carries a sign', 'user'],
    ['-0', 'uid "-0" carries a sign', 'user'],
    ['1000:+44', 'gid "+44" carries a sign', 'group'],
    ['2147483648', 'uid 2147483648 is out of range', 'user'],
    ['4294967294', 'uid 4294967294 is out of range', 'user'],
    ['99999999999999999999', 'out of range', 'user'],
    ['1000:2147483648', 'gid 2147483648 is out of range', 'group'],
    [' 1000', 'whitespace or control characters', 'user'],
    ['1000 ', 'whitespace or control characters', 'user'],
    ['alice:\tvideo', 'whitespace or control characters', 'group'],
    ['1.5', '"1.5" is neither a decimal uid', 'user'],
    ['0x10', '"0x10" is neither a decimal uid', 'user'],
  ])('%j', (spec, problem, part) => {
    const err = failure(() => resolveUserSpec(spec, db, asRoot));
    expect(err.exitCode).toBe(125);
    expect(err.message).toContain(`user spec ${JSON.stringify(spec)}`);
    expect(err.message).toContain(problem);
    expect(err.fields).toMatchObject({ spec, part });
    expect(err.hint).not.toBe('');
  });

  it('property: any string resolves or is a 125 EntrypointError naming the spec, never another exception', () => {
    const specChars = fc.constantFrom(...'0123456789:+- \t\nabcxyzalice.video#,'.split(''));
    const spec = fc.oneof(fc.string(), fc.string({ unit: specChars, maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 12 }));
    fc.assert(
      fc.property(spec, fc.nat(2 ** 31 - 1), fc.nat(2 ** 31 - 1), (text, uid, gid) => {
        let resolved;
        try {
          resolved = resolveUserSpec(text, db, { uid, gid });
        } catch (err) {
          return err instanceof EntrypointError && err.exitCode === 125 && err.message.includes(JSON.stringify(text));
        }
        // Anything accepted is a real id triple, never a NaN or a negative number.
        const ids = [resolved.uid, resolved.gid, ...resolved.groups];
        return resolved.spec === text && ids.every((id) => Number.isInteger(id) && id >= 0 && id <= 2 ** 32 - 2);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('specFromPuidPgid', () => {
  it.each([
    [undefined, undefined, undefined],
    ['', '', undefined],
    ['1000', undefined, '1000'],
    ['1000', '', '1000'],
    ['1000', '1001', '1000:1001'],
    ['0', '0', '0:0'],
  ])('PUID=%j PGID=%j -> %j', (puid, pgid, spec) => {
    expect(specFromPuidPgid(puid, pgid)).toBe(spec);
  });

  it.each([
    [undefined, '1000', 'PGID', 'PUID is not'],
    ['', '1000', 'PGID', 'PUID is not'],
    ['abc', undefined, 'PUID', 'PUID="abc"'],
    ['-1', '1000', 'PUID', 'PUID="-1"'],
    ['1000', 'x', 'PGID', 'PGID="x"'],
    ['1000', '1000 ', 'PGID', 'PGID="1000 "'],
    ['2147483648', undefined, 'PUID', 'PUID="2147483648"'],
    ['1000:1000', undefined, 'PUID', 'PUID="1000:1000"'],
  ])('PUID=%j PGID=%j is refused naming %s', (puid, pgid, variable, text) => {
    const err = failure(() => specFromPuidPgid(puid, pgid));
    expect(err.exitCode).toBe(125);
    expect(err.message).toContain(text);
    expect(err.fields).toMatchObject({ variable });
  });
});

describe('readUserDb', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads both files from the given directory', () => {
    dir = mkdtempSync(join(tmpdir(), 'users-test-'));
    writeFileSync(join(dir, 'passwd'), 'alice:x:1000:1000::/home/alice:/bin/sh\n');
    writeFileSync(join(dir, 'group'), 'video:x:44:alice\n');
    expect(readUserDb(dir)).toEqual({ passwd: 'alice:x:1000:1000::/home/alice:/bin/sh\n', group: 'video:x:44:alice\n' });
  });

  it("reads a missing file as '' (a scratch image without /etc/group still takes numeric ids)", () => {
    dir = mkdtempSync(join(tmpdir(), 'users-test-'));
    writeFileSync(join(dir, 'passwd'), 'alice:x:1000:1000::/home/alice:/bin/sh\n');
    expect(readUserDb(dir).group).toBe('');
    expect(readUserDb(join(dir, 'absent'))).toEqual({ passwd: '', group: '' });
  });

  it('refuses an unreadable database with a 125 naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'users-test-'));
    mkdirSync(join(dir, 'passwd'));
    const err = failure(() => readUserDb(dir));
    expect(err.exitCode).toBe(125);
    expect(err.message).toContain(join(dir, 'passwd'));
    expect(err.fields).toMatchObject({ error_code: 'EISDIR' });
  });
});
