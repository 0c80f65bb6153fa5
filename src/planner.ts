// The pure planner: options + observed facts -> the Plan the executor runs and --print-plan prints.
import { posix } from 'node:path';
import { join, normalize } from './paths.js';
import { EntrypointError, EXIT, errnoMeaning } from './errors.js';
import { computeServiceEnv, hubCacheFromEnv, type Env, type EnvChange } from './env.js';
import { hasPermission, type DirFacts, type Identity } from './facts.js';
import { resolveCommand, type Candidate, type ResolvedCommand } from './command.js';
import { validatePath, type Mode, type Options, type RepairPolicy } from './options.js';
import { resolveUserSpec, type ResolvedUser, type UserDb } from './users.js';

export interface UserPlan {
  /** switch: root drops to `target`; stay: no target (or already that user); ignored: not root, target not reachable. */
  action: 'switch' | 'stay' | 'ignored';
  spec?: string;
  target?: ResolvedUser;
  warning?: string;
}

export interface Problem {
  code: string;
  message: string;
  hint: string;
  /** Fatal regardless of --strict (the path can never work as a directory). */
  fatal?: boolean;
}

export interface DirPlan {
  path: string;
  /** Why it is prepared: HF_HOME, hub cache, XDG_CACHE_HOME, bark, torch, extra. */
  purposes: string[];
  facts: DirFacts;
  action: 'create' | 'use' | 'fail';
  /** Owner given to directories we create (root with a target user). */
  chownCreatedTo?: { uid: number; gid: number };
  /** Ownership repair of an existing tree (root with a target user). */
  repair: 'walk' | 'none';
  repairReason: string;
  predictedWritable: boolean;
  problem?: Problem;
}

export interface Plan {
  mode: Mode;
  runningAs: Identity;
  /** Who the service (and the write probes) run as. */
  service: Identity & { name?: string; home?: string };
  user: UserPlan;
  dirs: DirPlan[];
  env: EnvChange[];
  /** The complete environment of the service (never printed: it may hold secrets). */
  serviceEnv: Env;
  command?: ResolvedCommand & { argv: string[] };
  repairPolicy: RepairPolicy;
  strict: boolean;
  minFree?: number;
  settings: Record<string, { value: unknown; source: string; origin?: string }>;
}

export interface PlanInputs {
  options: Options;
  env: Env;
  runningAs: Identity;
  userDb: UserDb;
  cwd: string;
  observeDir: (path: string) => DirFacts;
  /** Looks at a command candidate as the given identity would (stat + permission bits). */
  lookCommand: (path: string, who: Identity) => Candidate;
}

export function makePlan(input: PlanInputs): Plan {
  const { options, env, runningAs } = input;
  const user = planUser(options, input.userDb, runningAs);
  const root = options.root.value;
  const service: Plan['service'] =
    user.action === 'switch' && user.target
      ? { uid: user.target.uid, gid: user.target.gid, groups: user.target.groups, name: user.target.name, home: user.target.home ?? root }
      : { ...runningAs };

  const envResult = computeServiceEnv({
    env,
    hfHome: options.hfHome.value,
    cacheHome: options.cacheHome.value,
    silenceWarnings: options.silenceWarnings.value,
    switchedUser: user.action === 'switch' && user.target ? { home: user.target.home ?? root, name: user.target.name } : undefined,
    homeFallback: service.uid !== 0 ? root : undefined,
  });

  const repairPolicy = options.repair.source === 'default' && options.mode === 'fix-permissions' ? 'always' : options.repair.value;
  // A parent created for an earlier directory is not created again: each plan line lists only its own work.
  const createdEarlier = new Set<string>();
  const dirs = directoryList(options, envResult.hubCache, env, input.cwd).map(({ path, purposes }) => {
    const facts = input.observeDir(path);
    if (facts.missing) facts.missing = facts.missing.filter((p) => !createdEarlier.has(p));
    const dir = planDir(path, purposes, facts, runningAs, service, user, repairPolicy, options.mode);
    if (dir.action === 'create') facts.missing?.forEach((p) => createdEarlier.add(p));
    return dir;
  });

  let command: Plan['command'];
  if (options.mode === 'run' && options.positionals.length > 0) {
    const argv = options.positionals;
    command = { argv, ...resolveCommand(argv[0], envResult.env.PATH, (p) => input.lookCommand(posix.isAbsolute(p) ? p : posix.join(input.cwd, p), service)) };
  }

  const settings = Object.fromEntries(
    (['root', 'hfHome', 'cacheHome', 'presets', 'dirs', 'user', 'strict', 'silenceWarnings', 'repair', 'minFree', 'config', 'logLevel', 'logFormat'] as const).map(
      (k) => [k, { value: options[k].value, source: options[k].source, origin: options[k].origin }],
    ),
  );
  return {
    mode: options.mode,
    runningAs,
    service,
    user,
    dirs,
    env: envResult.changes,
    serviceEnv: envResult.env,
    command,
    repairPolicy,
    strict: options.strict.value,
    minFree: options.minFree.value,
    settings,
  };
}

function planUser(options: Options, db: UserDb, runningAs: Identity): UserPlan {
  let spec = options.user.value;
  if (spec === undefined && options.mode === 'fix-permissions') spec = '1000:1000';
  if (spec === undefined) return { action: 'stay' };
  const target = resolveUserSpec(spec, db, { uid: runningAs.uid, gid: runningAs.gid });
  if (runningAs.uid === 0) {
    // gosu's rule: a uid without passwd entry and without a group keeps the caller's gid, root's here.
    const groupRoot = target.uid !== 0 && target.gid === 0 && target.name === undefined && !spec.includes(':');
    const warning = groupRoot
      ? `uid ${target.uid} has no passwd entry and no group was given, so the service runs with group 0 (root), as gosu does: set PGID too (PUID=${target.uid} PGID=${target.uid}) or use --user ${target.uid}:GID`
      : undefined;
    return { action: 'switch', spec, target, warning };
  }
  if (target.uid === runningAs.uid && target.gid === runningAs.gid) return { action: 'stay', spec, target };
  return {
    action: 'ignored',
    spec,
    target,
    warning: `asked to run as ${spec} (uid ${target.uid}, gid ${target.gid}) but started as uid ${runningAs.uid} gid ${runningAs.gid}, not root: going on as uid ${runningAs.uid}. Remove PUID/PGID/--user, or start the container as root (no \`user:\`) so the entrypoint can switch`,
  };
}

/** The union of the presets' and --dir's directories, normalised, deduplicated, parents before children. */
export function directoryList(options: Options, hubCache: string, env: Env, cwd: string): { path: string; purposes: string[] }[] {
  const wanted: [string, string][] = [];
  if (options.mode === 'fix-permissions') {
    for (const p of options.positionals) wanted.push([posix.isAbsolute(p) ? p : posix.join(cwd, p), 'argument']);
  } else {
    const cache = options.cacheHome.value;
    if (options.presets.value.includes('hf')) {
      wanted.push([options.hfHome.value, 'HF_HOME']);
      const hubSource = hubCacheFromEnv(env).name ?? 'HF_HUB_CACHE';
      wanted.push([validatePath(hubCache, hubSource), 'hub cache']);
    }
    wanted.push([cache, 'XDG_CACHE_HOME']);
    if (options.presets.value.includes('bark')) wanted.push([join(cache, 'suno', 'bark_v0'), 'bark']);
    if (options.presets.value.includes('torch')) {
      wanted.push([env.TORCH_HOME ? validatePath(env.TORCH_HOME, 'TORCH_HOME') : join(cache, 'torch'), 'torch']);
    }
    for (const d of options.dirs.value) wanted.push([d, 'extra']);
  }
  const byPath = new Map<string, string[]>();
  for (const [raw, purpose] of wanted) {
    const path = normalize(raw).replace(/(.)\/+$/, '$1');
    const purposes = byPath.get(path) ?? [];
    if (!purposes.includes(purpose)) purposes.push(purpose);
    byPath.set(path, purposes);
  }
  const depth = (p: string) => (p === '/' ? 0 : p.split('/').length);
  return [...byPath].map(([path, purposes]) => ({ path, purposes })).sort((a, b) => depth(a.path) - depth(b.path));
}

function describeOwner(uid: number, gid: number, mode: number): string {
  return `owned by ${uid}:${gid} with mode ${mode.toString(8)}`;
}

/** What to tell a person whose service user cannot write `path`. */
export function remediation(path: string, service: Identity, runningAs: Identity, mode: Mode): string {
  const who = `${service.uid}:${service.gid}`;
  if (runningAs.uid === 0 && service.uid === 0) return `the directory is on a filesystem that refuses writes even to root: mount the volume read-write`;
  if (mode === 'fix-permissions') return `check that ${path} is not on a read-only or root-squashed (NFS) filesystem`;
  const host = `on the host: \`sudo chown -R ${who} <host folder mounted at ${path}>\` or \`model-entrypoint fix-permissions --user ${who} <host folder>\``;
  if (runningAs.uid === 0) return `${host}; or set MODEL_ENTRYPOINT_REPAIR=on-root-mismatch (or always) so the entrypoint repairs ownership as root`;
  return `${host}; or start the container as root with PUID=${service.uid} PGID=${service.gid} (remove \`user:\`) so the entrypoint repairs ownership before dropping to ${who}`;
}

function planDir(
  path: string,
  purposes: string[],
  facts: DirFacts,
  runningAs: Identity,
  service: Identity,
  user: UserPlan,
  policy: RepairPolicy,
  mode: Mode,
): DirPlan {
  const base = { path, purposes, facts, repair: 'none' as const, repairReason: '' };
  const fail = (code: string, message: string, hint: string, fatal = true): DirPlan => ({ ...base, action: 'fail', predictedWritable: false, problem: { code, message, hint, fatal } });
  // A directory the service user cannot even reach: the fix is on the ancestor, not on the directory.
  const unsearchable = facts.ancestors?.find((a) => !hasPermission(service, a, 1));
  const reachProblem = unsearchable && {
    code: 'EACCES',
    message: `${path} cannot be reached by uid ${service.uid} gid ${service.gid}: ${unsearchable.path} (${describeOwner(unsearchable.uid, unsearchable.gid, unsearchable.mode)}) does not let it search (no x permission)`,
    hint: `give the service user search permission on ${unsearchable.path} (e.g. chmod o+x ${unsearchable.path}), or use a directory outside it`,
  };
  const switching = user.action === 'switch' && user.target !== undefined;
  const targetOwner = switching ? { uid: user.target!.uid, gid: user.target!.gid } : undefined;

  switch (facts.state) {
    case 'not-directory':
      return fail('ENOTDIR', facts.blocker === path ? `${path} exists but is not a directory` : `${path} cannot be created: ${facts.blocker} is a file, not a directory`, `remove or rename ${facts.blocker}, or point the setting at another directory`);
    case 'dangling-symlink':
      return fail('ENOENT', `${facts.blocker ?? path} is a symbolic link to a path that does not exist`, `create the link's target, mount the volume it points to, or remove the link`);
    case 'symlink-loop':
      return fail('ELOOP', `${facts.blocker ?? path} is part of a symbolic link loop`, 'fix the symbolic links so that they end in a real directory');
    case 'unreadable':
      if (reachProblem) return fail(reachProblem.code, reachProblem.message, reachProblem.hint, false);
      return fail(facts.error_code ?? 'EACCES', `${facts.blocker ?? path} cannot be inspected: ${errnoMeaning(facts.error_code)}`, remediation(path, service, runningAs, mode), false);
    case 'missing': {
      if (mode === 'check') return fail('ENOENT', `${path} does not exist`, 'start the service once through the entrypoint (it creates it), or run `model-entrypoint fix-permissions` on the host', false);
      const ancestor = facts.ancestor!;
      const creatable = hasPermission(runningAs, ancestor, 3);
      const plan: DirPlan = { ...base, action: 'create', chownCreatedTo: targetOwner, predictedWritable: creatable };
      if (!creatable) {
        plan.problem = { code: 'EACCES', message: `${path} is missing and ${ancestor.path} (${describeOwner(ancestor.uid, ancestor.gid, ancestor.mode)}) does not let uid ${runningAs.uid} create it`, hint: remediation(ancestor.path, service, runningAs, mode) };
      } else if (reachProblem) {
        Object.assign(plan, { predictedWritable: false, problem: reachProblem });
      }
      return plan;
    }
    case 'directory': {
      const dir = facts.dir!;
      const plan: DirPlan = { ...base, action: 'use', predictedWritable: hasPermission(service, dir, 3) };
      // A symlink on the way could have been planted by the service user in a tree it owns: the
      // walk would then re-own whatever it points to. Repair only physical paths.
      const throughSymlink = facts.symlink || (facts.resolved !== undefined && facts.resolved !== path);
      // /tmp-like (sticky, world-writable): everyone may write, each file belongs to its creator.
      const sharedSticky = (dir.mode & 0o1002) === 0o1002;
      if (targetOwner && mode !== 'check' && throughSymlink) {
        plan.repairReason = `not repaired: the path goes through a symbolic link (to ${facts.resolved ?? 'elsewhere'}); point the setting at the real directory to have it repaired`;
      } else if (targetOwner && mode !== 'check' && sharedSticky) {
        plan.repairReason = 'not repaired: a shared sticky directory (like /tmp) is writable by everyone and its files belong to other users';
      } else if (targetOwner && mode !== 'check') {
        const mismatch = dir.uid !== targetOwner.uid || dir.gid !== targetOwner.gid;
        if (policy === 'always') Object.assign(plan, { repair: 'walk', repairReason: 'repair policy is always' });
        else if (policy === 'on-root-mismatch' && mismatch) Object.assign(plan, { repair: 'walk', repairReason: `top directory is ${dir.uid}:${dir.gid}, not ${targetOwner.uid}:${targetOwner.gid}` });
        else plan.repairReason = mismatch ? 'repair policy is never' : 'top directory already has the right owner';
        if (plan.repair === 'walk') plan.predictedWritable = hasPermission(service, { uid: targetOwner.uid, gid: targetOwner.gid, mode: dir.mode | 0o700 }, 3);
      }
      if (reachProblem) {
        Object.assign(plan, { predictedWritable: false, problem: reachProblem });
      } else if (!plan.predictedWritable) {
        plan.problem = { code: 'EACCES', message: `${path} is not writable by uid ${service.uid} gid ${service.gid}: it is ${describeOwner(dir.uid, dir.gid, dir.mode)}`, hint: remediation(path, service, runningAs, mode) };
      }
      return plan;
    }
  }
}

/**
 * A plan problem that must stop the start before anything is created: a directory that can never
 * work, or a service command that is not there or cannot be run (preparing directories for a service
 * that cannot start would only leave them behind).
 */
export function fatalProblem(plan: Plan): EntrypointError | undefined {
  const bad = plan.dirs.find((d) => d.problem?.fatal);
  if (bad) return new EntrypointError(EXIT.WRAPPER, bad.problem!.message, bad.problem!.hint, 'dir.invalid', { path: bad.path, error_code: bad.problem!.code });
  const command = plan.command;
  if (command?.error) return new EntrypointError(command.error.exitCode, command.error.message, command.error.hint, 'command.failed', { command: command.name, error_code: command.error.code, searched: command.searched });
  return undefined;
}

