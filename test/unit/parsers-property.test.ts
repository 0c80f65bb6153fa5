// Property tests (fast-check) for what test/unit/options.test.ts and users.test.ts do not cover yet:
// config files holding random JSON, PUID/PGID pairs, sizes, paths, random user databases, the
// legacy cache variables, and whole plans over random directory facts. The rule each time: any input
// either parses (to something well-formed) or fails with a 125 EntrypointError whose message names
// the input, never with another exception.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EntrypointError } from '../../src/errors.js';
import { OPTION_SPECS, parseCommandLine, parseSize, validatePath, type OptionInputs } from '../../src/options.js';
import { resolveUserSpec, specFromPuidPgid } from '../../src/users.js';
import { computeServiceEnv, LEGACY_CACHE_VARS } from '../../src/env.js';
import { fatalProblem, makePlan } from '../../src/planner.js';
import type { DirFacts } from '../../src/facts.js';

const CONFIG = '/etc/model-entrypoint.json';
const CONFIG_KEYS = OPTION_SPECS.filter((s) => !['config', 'format'].includes(s.flag)).map((s) => s.flag);

/** Runs `fn`; a thrown error must be a 125 EntrypointError with a hint. Returns it (or undefined). */
function usageFailure(fn: () => unknown): EntrypointError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof EntrypointError)) throw new Error(`not an EntrypointError: ${String(err)}`);
    expect(err.exitCode).toBe(125);
    expect(err.hint.length).toBeGreaterThan(5);
    return err;
  }
}

const parseWithConfig = (text: string, argv: string[] = ['python']) =>
  parseCommandLine({ argv: ['--config', CONFIG, ...argv], env: {}, readFile: (p) => (p === CONFIG ? text : '') } as OptionInputs);

// JSON values that look like what people write: the right shapes, the wrong shapes, and near misses.
const pathLike = fc.oneof(
  fc.constantFrom('/app/models', '/data/', '/a/../b', 'relative/dir', '', '/', `/${'x'.repeat(300)}`, '/a\u0000b', '/tmp/ünïcode'),
  fc.string({ maxLength: 20 }),
);
const jsonValue = fc.oneof(
  pathLike,
  fc.constantFrom('hf', 'bark', 'torch', 'whisper', '5G', '500M', '5Q', '-1', 'info', 'loud', 'json', 'pretty', 'always', 'never', '1000:1000', 'alice', ''),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.array(pathLike, { maxLength: 3 }),
  fc.array(fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);
const configKey = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CONFIG_KEYS) }, fc.constantFrom('config', 'format', 'presets', 'hf_home', '__proto__', 'constructor'), fc.string({ maxLength: 10 }));

describe('property: config files with random JSON', () => {
  it('random objects: parse, or a 125 naming the config file (and the key, for a key problem)', () => {
    fc.assert(
      fc.property(fc.dictionary(configKey, jsonValue, { maxKeys: 5 }), (obj) => {
        const text = JSON.stringify(obj);
        const err = usageFailure(() => parseWithConfig(text));
        if (!err) return;
        const key = err.fields.key as string | undefined;
        if (key !== undefined) {
          expect(err.message).toContain(CONFIG);
          expect(err.message).toContain(`"${key}"`);
          expect(Object.keys(obj)).toContain(key);
        } else {
          // A value problem found while converting names the key too ("config key "dir" in FILE"),
          // or it is a user-spec problem naming the spec given in "user".
          expect(err.message.includes(CONFIG) || err.message.startsWith('user spec')).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('random text: parses only when it is a JSON object, otherwise a 125 naming the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.json(), fc.constantFrom('', '{', '{"dir": }', '[]', 'null', '"x"', '{"a":1,}')), (text) => {
        const err = usageFailure(() => parseWithConfig(text));
        if (err) expect(err.message).toContain(CONFIG);
        else expect(JSON.parse(text)).toBeTypeOf('object');
      }),
      { numRuns: 2000 },
    );
  });

  it('well-formed configs are taken as given, with source "config" and the key as origin', () => {
    const valid = fc.record(
      {
        'hf-home': fc.constantFrom('/models', '/srv/hf/', '/a/./b'),
        preset: fc.subarray(['hf', 'bark', 'torch'], { minLength: 1 }),
        dir: fc.array(fc.constantFrom('/data', '/x/y', '/opt/cache/'), { maxLength: 3 }),
        strict: fc.boolean(),
        'min-free': fc.constantFrom('5G', '500M', '1024', '1.5T'),
        'log-level': fc.constantFrom('debug', 'info', 'warn'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(valid, (obj) => {
        const o = parseWithConfig(JSON.stringify(obj));
        if (obj['hf-home'] !== undefined) expect(o.hfHome).toMatchObject({ value: validatePath(obj['hf-home'], 'x'), source: 'config', origin: `${CONFIG}: "hf-home"` });
        if (obj.preset !== undefined) expect(o.presets.value).toEqual([...new Set(obj.preset)]);
        if (obj.strict !== undefined) expect(o.strict).toMatchObject({ value: obj.strict, source: 'config' });
        if (obj['min-free'] !== undefined) expect(o.minFree.value).toBe(parseSize(obj['min-free'], 'x'));
        if (obj.dir !== undefined) expect(o.dirs.value).toEqual(obj.dir.map((d) => validatePath(d, 'x')));
      }),
      { numRuns: 500 },
    );
  });

  it('a flag or variable always beats the config file', () => {
    fc.assert(
      fc.property(fc.constantFrom('/from/config', '/c/'), fc.constantFrom('/from/flag', '/f'), (fromConfig, fromFlag) => {
        const o = parseWithConfig(JSON.stringify({ 'hf-home': fromConfig, root: fromConfig }), ['--hf-home', fromFlag, 'python']);
        expect(o.hfHome).toMatchObject({ value: validatePath(fromFlag, 'x'), source: 'flag' });
        expect(o.root.source).toBe('config');
      }),
    );
  });
});

describe('property: PUID / PGID', () => {
  const idText = fc.oneof(fc.nat({ max: 2 ** 31 - 1 }).map(String), fc.string({ maxLength: 12 }), fc.constantFrom('', ' 1', '1 ', '-0', '+5', '1e3', '0x10', '2147483648', '00', '٣'));
  it('any pair is undefined, the exact "PUID[:PGID]" spec, or a 125 naming the variable and its value', () => {
    fc.assert(
      fc.property(fc.option(idText, { nil: undefined }), fc.option(idText, { nil: undefined }), (puid, pgid) => {
        let spec: string | undefined;
        const err = usageFailure(() => (spec = specFromPuidPgid(puid, pgid)));
        if (err) {
          const variable = err.fields.variable as string;
          expect(['PUID', 'PGID']).toContain(variable);
          expect(err.message).toContain(`${variable}=`);
          return;
        }
        const u = puid === '' ? undefined : puid;
        const g = pgid === '' ? undefined : pgid;
        if (u === undefined) expect(spec).toBeUndefined();
        else expect(spec).toBe(g === undefined ? u : `${u}:${g}`);
        // Whatever was accepted is plain decimal ids.
        if (spec !== undefined) expect(spec).toMatch(/^\d+(:\d+)?$/);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('property: sizes and paths', () => {
  it('parseSize: numbers with a unit are exact; anything else is a 125 naming the input and the text', () => {
    const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
    fc.assert(
      fc.property(fc.nat({ max: 4096 }), fc.constantFrom('', 'K', 'M', 'G', 'T'), fc.constantFrom('', 'B', 'iB'), (n, unit, suffix) => {
        fc.pre(unit !== '' || suffix !== 'iB');
        expect(parseSize(`${n}${unit}${unit ? suffix : suffix === 'B' ? 'B' : ''}`, '--min-free')).toBe(n * units[unit]);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        let bytes: number | undefined;
        const err = usageFailure(() => (bytes = parseSize(text, '--min-free')));
        if (err) {
          expect(err.message).toContain('--min-free');
          expect(err.message).toContain(text);
          expect(err.fields.value).toBe(text);
        } else {
          expect(Number.isSafeInteger(bytes)).toBe(true);
          expect(bytes).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('validatePath: accepts only absolute paths and returns them normalised, else a 125 naming the input', () => {
    const segment = fc.oneof(fc.constantFrom('.', '..', '', 'models', 'a b', 'x'.repeat(256)), fc.string({ maxLength: 6 }));
    const path = fc.oneof(fc.array(segment, { maxLength: 6 }).map((s) => s.join('/')), fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`));
    fc.assert(
      fc.property(path, (p) => {
        let out: string | undefined;
        const err = usageFailure(() => (out = validatePath(p, 'HF_HOME')));
        if (err) {
          expect(err.message).toContain('HF_HOME');
          return;
        }
        expect(out!.startsWith('/')).toBe(true);
        expect(out).not.toMatch(/\/\.\.?(\/|$)|\/\/|.\/$/);
        expect(out!.includes('\0')).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('property: user specs against random user databases', () => {
  const field = fc.oneof(fc.constantFrom('', '0', '1000', '-1', '4294967295', '99999999999', 'abc', ' 7'), fc.nat({ max: 70000 }).map(String));
  const name = fc.oneof(fc.constantFrom('alice', 'bob', '1000', 'root', ''), fc.stringMatching(/^[a-z0-9_-]{1,6}$/));
  const passwdLine = fc.tuple(name, field, field, fc.constantFrom('', '/home/x', '/')).map(([n, u, g, h]) => `${n}:x:${u}:${g}::${h}:/bin/sh`);
  const groupLine = fc.tuple(name, field, fc.array(name, { maxLength: 3 })).map(([n, g, m]) => `${n}:x:${g}:${m.join(',')}`);
  const junk = fc.constantFrom('#comment', '', '::::', 'garbage', 'x:x:x:x');
  const db = fc.record({
    passwd: fc.array(fc.oneof(passwdLine, junk), { maxLength: 6 }).map((l) => l.join('\n')),
    group: fc.array(fc.oneof(groupLine, junk), { maxLength: 6 }).map((l) => l.join('\n')),
  });
  const spec = fc.oneof(fc.constantFrom('alice', 'bob:alice', '1000', '1000:1000', ':1000', '1000:', 'root', '0', 'alice:0'), fc.tuple(name, fc.constantFrom(':', ''), name).map(([a, s, b]) => `${a}${s}${b}`), fc.string({ maxLength: 10 }));

  it('resolves to real ids or is a 125 naming the spec; a corrupt line never becomes root', () => {
    fc.assert(
      fc.property(spec, db, (text, userDb) => {
        let r: ReturnType<typeof resolveUserSpec> | undefined;
        const err = usageFailure(() => (r = resolveUserSpec(text, userDb, { uid: 0, gid: 0 })));
        if (err) {
          expect(err.message).toContain(JSON.stringify(text));
          return;
        }
        for (const id of [r!.uid, r!.gid, ...r!.groups]) expect(Number.isInteger(id) && id >= 0 && id <= 2 ** 32 - 2).toBe(true);
        // uid 0 only when asked for by number or by a name whose passwd line really says uid 0.
        if (r!.uid === 0) {
          const userPart = text.split(':')[0];
          const rootByName = userDb.passwd.split('\n').some((l) => l.trim().split(':')[0] === userPart && l.trim().split(':')[2] === '0');
          expect(userPart === '' || /^0+$/.test(userPart) || rootByName).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('property: legacy cache variables', () => {
  const value = fc.oneof(fc.constantFrom('/app/models/hub', '/old/cache', '/old/cache/', 'relative', '', '/app/models/hub/'), fc.string({ maxLength: 8 }));
  it('migrate, conflict, keep or a 125 naming the variable; never exported to the service', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...LEGACY_CACHE_VARS, 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE'), value), (vars) => {
        let result: ReturnType<typeof computeServiceEnv> | undefined;
        const err = usageFailure(() => (result = computeServiceEnv({ env: vars, hfHome: '/app/models', cacheHome: '/app/.cache', silenceWarnings: [] })));
        if (err) {
          expect(LEGACY_CACHE_VARS as readonly string[]).toContain(err.fields.input);
          expect(err.message).toContain(String(err.fields.input));
          return;
        }
        for (const name of LEGACY_CACHE_VARS) expect(result!.env[name]).toBeUndefined();
        expect(result!.hubCache.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('property: whole plans over random directory facts', () => {
  const state = fc.constantFrom<DirFacts['state']>('directory', 'missing', 'not-directory', 'dangling-symlink', 'symlink-loop', 'unreadable');
  const owner = fc.record({ uid: fc.constantFrom(0, 1000, 2000), gid: fc.constantFrom(0, 1000), mode: fc.constantFrom(0o755, 0o700, 0o777, 0o555, 0o1777) });
  const facts = fc.tuple(state, owner);
  const argv = fc.tuple(fc.subarray(['--preset', 'bark', '--preset', 'torch', '--dir', '/data', '--strict', '--repair', 'never'] as string[]), fc.constantFrom(['python'], ['missing-cmd'], ['/bin'], [] as string[]));

  it('makePlan and fatalProblem never throw anything but a 125 EntrypointError; a failing dir or command is fatal', () => {
    fc.assert(
      fc.property(argv, fc.array(facts, { minLength: 8, maxLength: 8 }), fc.constantFrom(0, 1000), (args, factList, uid) => {
        const [flags, cmd] = args;
        let i = 0;
        const observe = (path: string): DirFacts => {
          const [s, o] = factList[i++ % factList.length];
          const dir = { path, dev: 1, ...o };
          if (s === 'directory') return { path, state: s, dir, free_bytes: 1 << 30 };
          if (s === 'missing') return { path, state: s, missing: [path], ancestor: { ...dir, path: '/' } };
          return { path, state: s, blocker: path, error_code: s === 'unreadable' ? 'EACCES' : undefined };
        };
        let plan: ReturnType<typeof makePlan> | undefined;
        const err = usageFailure(() => {
          const options = parseCommandLine({ argv: ['--print-plan', ...flags, ...cmd], env: { PUID: '1000', PGID: '1000' }, readFile: () => '' });
          plan = makePlan({
            options,
            env: { PATH: '/usr/bin:/bin' },
            runningAs: { uid, gid: uid, groups: [uid] },
            userDb: { passwd: 'app:x:1000:1000::/home/app:/bin/sh\n', group: '' },
            cwd: '/',
            observeDir: observe,
            lookCommand: (p) => (p === '/usr/bin/python' ? { kind: 'file', executable: true } : p === '/bin' ? { kind: 'directory', executable: false } : { kind: 'missing', executable: false }),
          });
        });
        if (err || !plan) return;
        const fatal = fatalProblem(plan);
        const deadDir = plan.dirs.some((d) => ['not-directory', 'dangling-symlink', 'symlink-loop'].includes(d.facts.state));
        const badCommand = plan.command?.error !== undefined;
        expect(fatal !== undefined).toBe(deadDir || badCommand);
        if (fatal) {
          expect([125, 126, 127]).toContain(fatal.exitCode);
          expect(fatal.hint.length).toBeGreaterThan(5);
          if (!deadDir) expect(fatal.message).toContain(plan.command!.name);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
