// User specs resolved exactly as gosu 1.14 does it (gosu calls runc's libcontainer/user
// GetExecUserPath), checked row by row against the real gosu binary in
// test/integration/gosu-differential.test.ts. Where gosu is unsafe or accepts nonsense, we refuse
// instead; docs/user-spec.md lists every form and every such deviation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EntrypointError, EXIT, errnoCode, errnoMeaning, usageError } from './errors.js';

/** Raw contents of passwd and group ('' when a file is missing). */
export interface UserDb {
  passwd: string;
  group: string;
}

export interface ResolvedUser {
  /** The spec as given. */
  spec: string;
  uid: number;
  gid: number;
  /** Supplementary groups, exactly the list passed to setgroups (may be empty). */
  groups: number[];
  /** Passwd home; undefined when the uid has no passwd entry (or its home field is empty). */
  home?: string;
  /** User name when the uid has a passwd entry (for USER/LOGNAME). */
  name?: string;
}

/** gosu (runc) refuses a numeric uid/gid above this unless the database has an entry for it. */
export const MAX_SPEC_ID = 2 ** 31 - 1;
/** Largest id the kernel accepts; (uid_t)-1 means "unchanged" and is never a real id. */
const MAX_KERNEL_ID = 2 ** 32 - 2;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Reads `${etc}/passwd` and `${etc}/group`; a missing file reads as '' (gosu does the same). */
export function readUserDb(etc = '/etc'): UserDb {
  return { passwd: readOptional(join(etc, 'passwd')), group: readOptional(join(etc, 'group')) };
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return '';
    // An unreadable database would otherwise surface later as a misleading "unknown user".
    throw new EntrypointError(
      EXIT.WRAPPER,
      `cannot read the user database ${path}: ${errnoMeaning(code)}`,
      `make ${path} a readable regular file in the image, or give --user as numeric uid:gid`,
      'entrypoint.usage_error',
      { path, error_code: code },
    );
  }
}

/** A decimal id field of a database line, or undefined when the field is not one. */
function idField(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d{1,10}$/.test(field)) return undefined;
  const id = Number(field);
  return id <= MAX_KERNEL_ID ? id : undefined;
}

/**
 * Lines of a passwd/group file, trimmed, without blanks and comments. Malformed lines are skipped:
 * gosu reads an unparsable id as 0, which would turn a corrupt entry into root.
 */
function dbLines(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const [name, , uidField, gidField, , home = ''] of dbLines(text)) {
    const uid = idField(uidField);
    const gid = idField(gidField);
    if (name && uid !== undefined && gid !== undefined) entries.push({ name, uid, gid, home });
  }
  return entries;
}

function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const [name, , gidField, members = ''] of dbLines(text)) {
    const gid = idField(gidField);
    if (name && gid !== undefined) entries.push({ name, gid, members: members === '' ? [] : members.split(',') });
  }
  return entries;
}

/** One side of `user:group`: absent, a decimal id, or a name to look up. */
type SpecPart = { kind: 'absent' } | { kind: 'id'; id: number; text: string } | { kind: 'name'; name: string };

function quoted(text: string): string {
  return JSON.stringify(text);
}

const SPEC_HINT =
  'give --user (or PUID/PGID) as uid, uid:gid, name, name:group, uid:group, name:gid or :gid, with decimal ids and names from the image';

function specError(spec: string, problem: string, part: 'user' | 'group', hint = SPEC_HINT): EntrypointError {
  return usageError(`user spec ${quoted(spec)}: ${problem}`, hint, { spec, part });
}

function parsePart(spec: string, text: string, part: 'user' | 'group'): SpecPart {
  const what = part === 'user' ? 'uid' : 'gid';
  if (text === '') return { kind: 'absent' };
  if (/^\d+$/.test(text)) {
    // Beyond 10 digits Number() loses precision; such an id is out of range anyway.
    const id = text.length > 10 ? Infinity : Number(text);
    return { kind: 'id', id, text };
  }
  // gosu accepts "+1000" and "-0" (Go's Atoi); a sign in an id is a mistake, not a name.
  if (/^[+-]\d+$/.test(text)) {
    const problem = /^-0*[1-9]/.test(text)
      ? `${what} ${text} is negative: ids must be in range 0-${MAX_SPEC_ID}`
      : `${what} ${quoted(text)} carries a sign: write the plain decimal number`;
    throw specError(spec, problem, part);
  }
  if (/[\s\x00-\x1f\x7f]/.test(text)) {
    throw specError(spec, `${part} ${quoted(text)} contains whitespace or control characters`, part);
  }
  return { kind: 'name', name: text };
}

/** What a spec part resolved to: the database entry it named, if any, and the id to use. */
type Given<E> = { entry: E | undefined; id: number };

/**
 * gosu's rule for a given user or group part: the first database entry with that name or id wins;
 * failing that, a name is an error and a bare id is used as is if it is within gosu's range.
 */
function lookUp<E extends { name: string }>(
  spec: string,
  part: Exclude<SpecPart, { kind: 'absent' }>,
  which: 'user' | 'group',
  entries: readonly E[],
  idOf: (entry: E) => number,
): Given<E> {
  const what = which === 'user' ? 'uid' : 'gid';
  const entry = entries.find((e) => (part.kind === 'name' ? e.name === part.name : idOf(e) === part.id));
  if (entry) return { entry, id: idOf(entry) };
  if (part.kind === 'name') {
    throw specError(
      spec,
      `${quoted(part.name)} is neither a decimal ${what} nor a ${which} name in /etc/${which === 'user' ? 'passwd' : 'group'}`,
      which,
      `use a numeric ${what} (e.g. 1000) or add the ${which} to the image`,
    );
  }
  if (part.id > MAX_SPEC_ID) {
    throw specError(spec, `${what} ${part.text} is out of range: ids must be in range 0-${MAX_SPEC_ID}`, which);
  }
  return { entry: undefined, id: part.id };
}

/**
 * gosu semantics for every form: uid, uid:gid, name, name:group, uid:group, name:gid, :gid, uid: .
 * `current` is the caller's ids: gosu's defaults for the parts the spec leaves out.
 * Throws a usage error (exit 125) naming the spec and the bad part for unknown names and malformed specs.
 */
export function resolveUserSpec(spec: string, db: UserDb, current: { uid: number; gid: number }): ResolvedUser {
  const fields = spec.split(':');
  if (fields.length > 2) {
    throw specError(spec, 'has more than one ":" (expected user, user:group or :group)', 'group');
  }
  const userPart = parsePart(spec, fields[0] ?? '', 'user');
  const groupPart = parsePart(spec, fields[1] ?? '', 'group');
  if (userPart.kind === 'absent' && groupPart.kind === 'absent') {
    throw specError(spec, 'names no user and no group', 'user');
  }

  // An absent user part means the caller's own uid, looked up like any other.
  const user: Given<PasswdEntry> =
    userPart.kind === 'absent'
      ? { entry: parsePasswd(db.passwd).find((u) => u.uid === current.uid), id: current.uid }
      : lookUp(spec, userPart, 'user', parsePasswd(db.passwd), (u) => u.uid);
  const entry = user.entry;
  const uid = user.id;
  let gid = entry ? entry.gid : current.gid;
  let groups: number[] = [];

  const groupDb = parseGroup(db.group);
  if (groupPart.kind === 'absent') {
    // Implicit group: the passwd gid stays primary; the supplementary list is every group naming the
    // matched user as a member (gosu does not add the primary gid to it).
    if (entry) groups = groupDb.filter((g) => g.members.includes(entry.name)).map((g) => g.gid);
  } else {
    // An explicit group replaces the primary gid and leaves no supplementary groups.
    gid = lookUp(spec, groupPart, 'group', groupDb, (g) => g.gid).id;
  }

  const resolved: ResolvedUser = { spec, uid, gid, groups };
  // An empty home would make HOME empty (gosu does that); treat it like a missing entry.
  if (entry?.home) resolved.home = entry.home;
  if (entry) resolved.name = entry.name;
  return resolved;
}

const PUID_HINT = 'set PUID (and optionally PGID) to decimal ids, e.g. PUID=1000 PGID=1000, or leave both unset';

function checkEnvId(variable: 'PUID' | 'PGID', value: string): void {
  if (!/^\d+$/.test(value) || value.length > 10 || Number(value) > MAX_SPEC_ID) {
    throw usageError(
      `${variable}=${quoted(value)} is not a valid ${variable === 'PUID' ? 'uid' : 'gid'}: expected a decimal number 0-${MAX_SPEC_ID}`,
      PUID_HINT,
      { variable, value },
    );
  }
}

/**
 * PUID/PGID -> 'PUID:PGID' or 'PUID'; undefined when neither is set. An empty value counts as unset
 * (compose's `PUID=${PUID}` with nothing exported). PGID without PUID is a usage error naming PGID.
 */
export function specFromPuidPgid(puid: string | undefined, pgid: string | undefined): string | undefined {
  const user = puid === '' ? undefined : puid;
  const group = pgid === '' ? undefined : pgid;
  if (user === undefined && group === undefined) return undefined;
  if (user === undefined) {
    throw usageError(`PGID=${quoted(group ?? '')} is set but PUID is not: PGID alone names no user`, PUID_HINT, {
      variable: 'PGID',
      value: group,
    });
  }
  checkEnvId('PUID', user);
  if (group === undefined) return user;
  checkEnvId('PGID', group);
  return `${user}:${group}`;
}
