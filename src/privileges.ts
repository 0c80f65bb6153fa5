// Switching to the service user as gosu does (setgroups, setgid, setuid), then proving it worked.
import { readFileSync, statSync } from 'node:fs';
import { EntrypointError, EXIT, errnoCode, errnoMeaning } from './errors.js';
import type { ResolvedUser } from './users.js';

/** The identity calls dropPrivileges makes; tests substitute fakes to reach the failure paths. */
export interface IdentityCalls {
  setgroups(groups: number[]): void;
  setgid(id: number): void;
  setuid(id: number): void;
  getuid(): number;
  geteuid(): number;
  getgid(): number;
  getegid(): number;
  /** Node's list: POSIX leaves open whether it holds the egid, Node always adds it. */
  getgroups(): number[];
  /** `/proc/self/status` as field -> value, or undefined when /proc is not mounted. */
  procStatus(): Map<string, string> | undefined;
}

function required<T>(fn: T | undefined, name: string): T {
  if (!fn) {
    throw new EntrypointError(
      EXIT.WRAPPER,
      `this platform has no process.${name}: cannot switch users`,
      'run on Linux, or drop --user/PUID/PGID',
      'user.switch_failed',
    );
  }
  return fn;
}

function readProcStatus(): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

export const processIdentity: IdentityCalls = {
  setgroups: (groups) => required(process.setgroups, 'setgroups')(groups),
  setgid: (id) => required(process.setgid, 'setgid')(id),
  setuid: (id) => required(process.setuid, 'setuid')(id),
  getuid: () => required(process.getuid, 'getuid')(),
  geteuid: () => required(process.geteuid, 'geteuid')(),
  getgid: () => required(process.getgid, 'getgid')(),
  getegid: () => required(process.getegid, 'getegid')(),
  getgroups: () => required(process.getgroups, 'getgroups')(),
  procStatus: readProcStatus,
};

function describe(user: ResolvedUser): string {
  return `user spec ${JSON.stringify(user.spec)} (uid ${user.uid}, gid ${user.gid}, groups [${user.groups.join(',')}])`;
}

/** What a failed set*id call means here; EINVAL is the usual rootless/user-namespace case. */
function switchFailureMeaning(code: string | undefined): string {
  if (code === 'EINVAL') return "the id is not mapped in this container's user namespace";
  return errnoMeaning(code);
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const left = [...new Set(a)].sort((x, y) => x - y);
  const right = [...new Set(b)].sort((x, y) => x - y);
  return left.length === right.length && left.every((id, i) => id === right[i]);
}

function verificationError(user: ResolvedUser, problem: string, hint: string, fields: Record<string, unknown>): EntrypointError {
  return new EntrypointError(EXIT.WRAPPER, `after switching to ${describe(user)}: ${problem}`, hint, 'user.switch_failed', {
    spec: user.spec,
    ...fields,
  });
}

/** The kernel's exact supplementary list, or Node's (which adds the egid) with the egid added on our side too. */
function groupsMatch(user: ResolvedUser, calls: IdentityCalls, status: Map<string, string> | undefined): [boolean, number[]] {
  const kernelLine = status?.get('Groups');
  if (kernelLine !== undefined) {
    const kernel = kernelLine === '' ? [] : kernelLine.split(/\s+/).map(Number);
    return [sameSet(kernel, user.groups), kernel];
  }
  const reported = calls.getgroups();
  return [sameSet(reported, [...user.groups, calls.getegid()]), reported];
}

/**
 * setgroups(user.groups), then setgid, then setuid; then verify uid, euid, gid, egid and groups, that
 * no capability survived and that setuid(0) now fails. Anything off is an EntrypointError (exit 125).
 */
export function dropPrivileges(user: ResolvedUser, calls: IdentityCalls = processIdentity): void {
  const steps: [string, () => void][] = [
    [`setgroups([${user.groups.join(',')}])`, () => calls.setgroups(user.groups)],
    [`setgid(${user.gid})`, () => calls.setgid(user.gid)],
    [`setuid(${user.uid})`, () => calls.setuid(user.uid)],
  ];
  for (const [call, step] of steps) {
    try {
      step();
    } catch (err) {
      if (err instanceof EntrypointError) throw err;
      const code = errnoCode(err);
      throw new EntrypointError(
        EXIT.WRAPPER,
        `cannot switch to ${describe(user)}: ${call} failed: ${switchFailureMeaning(code)}`,
        'start the container as root so the entrypoint can switch users, and with rootless Docker/Podman pick ids inside the user namespace mapping; or drop --user/PUID/PGID',
        'user.switch_failed',
        { spec: user.spec, call, error_code: code },
      );
    }
  }

  const actual = { uid: calls.getuid(), euid: calls.geteuid(), gid: calls.getgid(), egid: calls.getegid() };
  const status = calls.procStatus();
  const [groupsOk, actualGroups] = groupsMatch(user, calls, status);
  if (actual.uid !== user.uid || actual.euid !== user.uid || actual.gid !== user.gid || actual.egid !== user.gid || !groupsOk) {
    throw verificationError(
      user,
      `the process has uid ${actual.uid}, euid ${actual.euid}, gid ${actual.gid}, egid ${actual.egid}, groups [${actualGroups.join(',')}]`,
      'the kernel did not apply the switch as asked; report this with the container runtime and kernel version',
      { ...actual, groups: actualGroups },
    );
  }
  if (user.uid === 0) return; // staying root was asked for: nothing to lose

  // The kernel clears every capability when the last of real/effective/saved uid leaves 0, unless
  // securebits (KEEP_CAPS, NO_SETUID_FIXUP) say otherwise: then root powers would follow the service.
  const leftover = ['CapPrm', 'CapEff', 'CapAmb'].filter((set) => {
    const value = status?.get(set);
    return value !== undefined && !/^0+$/.test(value);
  });
  if (leftover.length > 0) {
    throw verificationError(
      user,
      `capabilities survived the switch (${leftover.map((set) => `${set}=${status?.get(set)}`).join(', ')})`,
      'the container sets securebits that keep capabilities across setuid; remove that setting or run without --user',
      { capabilities: leftover },
    );
  }
  let regainedRoot = false;
  try {
    calls.setuid(0);
    regainedRoot = true;
  } catch {
    // expected: an unprivileged process cannot become root again
  }
  if (regainedRoot) {
    throw verificationError(
      user,
      'setuid(0) still succeeds, so the service could become root again',
      'the process kept the power to change uid (securebits or a setuid-root binary); fix the image or run without --user',
      {},
    );
  }
}

/**
 * Refuse (exit 125) when the file at execPath carries the setuid or setgid bit, as gosu does: a setuid
 * entrypoint would let any user who can run it become any user, root included.
 */
export function assertNotSetuidBinary(execPath: string): void {
  let mode: number;
  try {
    mode = statSync(execPath).mode;
  } catch (err) {
    const code = errnoCode(err);
    throw new EntrypointError(
      EXIT.WRAPPER,
      `cannot check the mode of the entrypoint binary ${execPath}: ${errnoMeaning(code)}`,
      'the entrypoint refuses to run when it cannot rule out a setuid/setgid install; make sure /proc is mounted',
      'entrypoint.refused',
      { path: execPath, error_code: code },
    );
  }
  const bit = mode & 0o4000 ? 'setuid' : mode & 0o2000 ? 'setgid' : undefined;
  if (!bit) return;
  const who = bit === 'setuid' ? 'user' : 'group';
  throw new EntrypointError(
    EXIT.WRAPPER,
    `${execPath} is installed with the ${bit} bit (mode ${(mode & 0o7777).toString(8)}): refusing to run, because a ${bit} entrypoint runs as its file's ${who} for whoever starts it, and then switches to any user it is asked for (what you want instead is likely sudo or su)`,
    `remove the bit: chmod ${bit === 'setuid' ? 'u-s' : 'g-s'} ${execPath}`,
    'entrypoint.refused',
    { path: execPath, mode: (mode & 0o7777).toString(8) },
  );
}
