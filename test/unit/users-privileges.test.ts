// dropPrivileges against a fake kernel (the real switch is covered by test/integration/gosu-differential),
// and assertNotSetuidBinary against real files with the setuid/setgid bits.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNotSetuidBinary, dropPrivileges, type IdentityCalls } from '../../src/privileges.js';
import type { ResolvedUser } from '../../src/users.js';

const alice: ResolvedUser = { spec: 'alice', uid: 1000, gid: 1000, groups: [44, 29], home: '/home/alice', name: 'alice' };

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** A process that starts as root and follows the kernel's rules unless a quirk says otherwise. */
function fakeKernel(quirks: { failOn?: string; ignoreSetuid?: boolean; keepCaps?: boolean; procMissing?: boolean } = {}) {
  const state = { uid: 0, euid: 0, gid: 0, egid: 0, groups: [0] as number[] };
  const calls: string[] = [];
  const privileged = () => state.euid === 0 || quirks.keepCaps === true;
  const syscall = (name: string, apply: () => void) => {
    calls.push(name);
    if (quirks.failOn === name) throw errno(name === 'setuid' ? 'EINVAL' : 'EPERM');
    if (!privileged()) throw errno('EPERM');
    apply();
  };
  const kernel: IdentityCalls = {
    setgroups: (groups) => syscall('setgroups', () => (state.groups = [...groups])),
    setgid: (id) => syscall('setgid', () => (state.gid = state.egid = id)),
    setuid: (id) =>
      syscall('setuid', () => {
        if (!quirks.ignoreSetuid) state.uid = state.euid = id;
      }),
    getuid: () => state.uid,
    geteuid: () => state.euid,
    getgid: () => state.gid,
    getegid: () => state.egid,
    getgroups: () => (state.groups.includes(state.egid) ? [...state.groups] : [...state.groups, state.egid]),
    procStatus: () => {
      if (quirks.procMissing) return undefined;
      const caps = privileged() ? '000001ffffffffff' : '0000000000000000';
      return new Map([
        ['Groups', state.groups.join(' ')],
        ['CapPrm', caps],
        ['CapEff', caps],
        ['CapAmb', '0000000000000000'],
      ]);
    },
  };
  return { kernel, state, calls };
}

/** Matches a 125 EntrypointError whose message contains every part and whose fields include `fields`. */
function wrapperError(parts: string[], fields: Record<string, unknown> = {}) {
  return expect.objectContaining({
    exitCode: 125,
    message: expect.stringMatching(new RegExp(parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*'), 's')),
    fields: expect.objectContaining(fields),
  });
}

describe('dropPrivileges', () => {
  it('sets groups, then gid, then uid, and then proves root is gone with a setuid(0) that fails', () => {
    const { kernel, state, calls } = fakeKernel();
    dropPrivileges(alice, kernel);
    expect(state).toEqual({ uid: 1000, euid: 1000, gid: 1000, egid: 1000, groups: [44, 29] });
    expect(calls).toEqual(['setgroups', 'setgid', 'setuid', 'setuid']);
  });

  it('verifies with getgroups (which adds the egid) when /proc is not mounted', () => {
    const { kernel, state } = fakeKernel({ procMissing: true });
    dropPrivileges({ ...alice, groups: [] }, kernel);
    expect(state.groups).toEqual([]);
  });

  it('does not probe setuid(0) when root was asked for', () => {
    const { kernel, calls } = fakeKernel();
    dropPrivileges({ spec: ':44', uid: 0, gid: 44, groups: [], home: '/root', name: 'root' }, kernel);
    expect(calls).toEqual(['setgroups', 'setgid', 'setuid']);
  });

  it.each([
    ['setgroups', 'setgroups([44,29]) failed', 'EPERM'],
    ['setgid', 'setgid(1000) failed', 'EPERM'],
    ['setuid', "setuid(1000) failed: the id is not mapped in this container's user namespace", 'EINVAL'],
  ])('a failing %s is a 125 naming the call and the spec', (failOn, text, code) => {
    expect(() => dropPrivileges(alice, fakeKernel({ failOn }).kernel)).toThrow(
      wrapperError(['user spec "alice"', text], { error_code: code, call: expect.stringMatching(`^${failOn}\\(`) }),
    );
  });

  it('catches a switch the kernel did not apply', () => {
    expect(() => dropPrivileges(alice, fakeKernel({ ignoreSetuid: true }).kernel)).toThrow(
      wrapperError(['the process has uid 0, euid 0, gid 1000, egid 1000']),
    );
  });

  it('catches a group list that differs from the one asked for', () => {
    const { kernel } = fakeKernel();
    const lying: IdentityCalls = { ...kernel, setgroups: (groups) => kernel.setgroups([...groups, 0]) };
    expect(() => dropPrivileges(alice, lying)).toThrow(wrapperError(['groups [44,29,0]']));
  });

  it('refuses when capabilities survive the switch (securebits keep them)', () => {
    expect(() => dropPrivileges(alice, fakeKernel({ keepCaps: true }).kernel)).toThrow(
      wrapperError(['capabilities survived the switch (CapPrm=000001ffffffffff, CapEff=000001ffffffffff)']),
    );
  });

  it('refuses when setuid(0) still succeeds afterwards', () => {
    const { kernel } = fakeKernel({ procMissing: true, keepCaps: true });
    expect(() => dropPrivileges(alice, kernel)).toThrow(wrapperError(['setuid(0) still succeeds']));
  });
});

describe('assertNotSetuidBinary', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'setuid-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function binary(name: string, mode: number): string {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, mode); // after writing: umask must not strip the special bits
    return path;
  }

  it('accepts an ordinary executable', () => {
    expect(() => assertNotSetuidBinary(binary('plain', 0o755))).not.toThrow();
  });

  it.each([
    ['setuid', 0o4755, 'chmod u-s'],
    ['setgid', 0o2755, 'chmod g-s'],
    ['setuid', 0o6755, 'chmod u-s'],
  ])('refuses a %s binary (mode %o) and says why', (bit, mode, fix) => {
    const path = binary(`special-${mode.toString(8)}`, mode);
    expect(() => assertNotSetuidBinary(path)).toThrow(
      wrapperError([`${path} is installed with the ${bit} bit (mode ${mode.toString(8)})`, 'switches to any user']),
    );
    expect(() => assertNotSetuidBinary(path)).toThrow(expect.objectContaining({ hint: `remove the bit: ${fix} ${path}` }));
  });

  it('refuses when the binary cannot be inspected', () => {
    expect(() => assertNotSetuidBinary(join(dir, 'missing'))).toThrow(wrapperError([join(dir, 'missing')], { error_code: 'ENOENT' }));
  });
});
