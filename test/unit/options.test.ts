import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCommandLine, parseSize, type OptionInputs } from '../../src/options.js';
import { specFromPuidPgid } from '../../src/users.js';
import { EntrypointError } from '../../src/errors.js';

const files: Record<string, string> = {};
const readFile = (p: string) => {
  if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return files[p];
};
const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine({ argv, env, readFile } as OptionInputs);
const failure = (argv: string[], env: Record<string, string> = {}): EntrypointError => {
  try {
    parse(argv, env);
  } catch (err) {
    return err as EntrypointError;
  }
  throw new Error('expected a failure');
};

describe('parseCommandLine', () => {
  it('uses the defaults under /app', () => {
    const o = parse(['python', 'app.py']);
    expect(o.root).toEqual({ value: '/app', source: 'default' });
    expect(o.hfHome.value).toBe('/app/models');
    expect(o.cacheHome.value).toBe('/app/.cache');
    expect(o.presets.value).toEqual(['hf']);
    expect(o.positionals).toEqual(['python', 'app.py']);
    expect(o.silenceWarnings.value).toEqual(['pkg_resources']);
  });

  it('stops at the first non-option so the service keeps its own flags', () => {
    const o = parse(['--strict', 'python', '--strict', '-m', 'x']);
    expect(o.strict.value).toBe(true);
    expect(o.positionals).toEqual(['python', '--strict', '-m', 'x']);
  });

  it('takes everything after -- as the command', () => {
    expect(parse(['--', '--weird-program', 'x']).positionals).toEqual(['--weird-program', 'x']);
  });

  it('applies precedence flag > env > config > default and records the source', () => {
    files['/cfg.json'] = JSON.stringify({ 'hf-home': '/from/config', 'cache-home': '/cfg/cache', root: '/cfgroot' });
    const o = parse(['--hf-home', '/from/flag', '--config', '/cfg.json', 'x'], { XDG_CACHE_HOME: '/from/env' });
    expect(o.hfHome).toMatchObject({ value: '/from/flag', source: 'flag' });
    expect(o.cacheHome).toMatchObject({ value: '/from/env', source: 'env', origin: 'XDG_CACHE_HOME' });
    expect(o.root).toMatchObject({ value: '/cfgroot', source: 'config' });
  });

  it('derives the defaults from the root wherever the root comes from', () => {
    const o = parse(['x'], { MODEL_ENTRYPOINT_ROOT: '/srv/' });
    expect(o.hfHome.value).toBe('/srv/models');
    expect(o.root.value).toBe('/srv');
  });

  it('reads list variables: presets by comma, dirs by colon', () => {
    const o = parse(['x'], { MODEL_ENTRYPOINT_PRESETS: 'hf, bark,torch', MODEL_ENTRYPOINT_DIRS: '/a:/b/:' });
    expect(o.presets.value).toEqual(['hf', 'bark', 'torch']);
    expect(o.dirs.value).toEqual(['/a', '/b']);
  });

  it('treats an empty variable as unset', () => {
    expect(parse(['x'], { HF_HOME: '' }).hfHome.source).toBe('default');
  });

  it('turns PUID/PGID into a user spec', () => {
    expect(parse(['x'], { PUID: '1000', PGID: '1001' }).user).toMatchObject({ value: '1000:1001', source: 'env' });
    expect(parse(['--user', 'bob', 'x'], { PUID: '1000' }).user).toMatchObject({ value: 'bob', source: 'flag' });
  });

  it.each([
    [['--bogus', 'x'], /unknown option --bogus/],
    [['--root'], /--root needs a value/],
    [['--'], /no service command after `--`/],
    [[], /no service command/],
    [[''], /empty string/],
    [['--root', 'relative', 'x'], /--root must be an absolute path/],
    [['--preset', 'nope', 'x'], /unknown value "nope"/],
    [['--log-level', 'loud', 'x'], /--log-level: unknown value "loud"/],
    [['--min-free', '5Q', 'x'], /--min-free: "5Q" is not a size/],
    [['--dir', `/${'a'.repeat(5000)}`, 'x'], /5001 characters long/],
    [['--config', '/missing.json', 'x'], /cannot read config file \/missing.json/],
    [['check', 'extra'], /check takes no arguments/],
    [['fix-permissions'], /needs at least one DIR/],
  ])('rejects %j with a clear message', (argv, pattern) => {
    const err = failure(argv);
    expect(err).toBeInstanceOf(EntrypointError);
    expect(err.exitCode).toBe(125);
    expect(err.message).toMatch(pattern);
    expect(err.hint.length).toBeGreaterThan(10);
  });

  it.each([
    ['not json {', /is not valid JSON/],
    ['[1,2]', /must hold a JSON object, got an array/],
    ['{"colour": "red"}', /unknown key "colour"/],
    ['{"strict": "yes"}', /key "strict" must be a boolean, got string/],
    ['{"dir": [1]}', /key "dir" must be a list of absolute path strings/],
    ['{"hf-home": "rel/path"}', /must be an absolute path/],
  ])('rejects the config file %s naming the key and type', (text, pattern) => {
    files['/bad.json'] = text;
    const err = failure(['--config', '/bad.json', 'x']);
    expect(err.exitCode).toBe(125);
    expect(err.message).toMatch(pattern);
    expect(err.message).toContain('/bad.json');
  });

  it.each(['abc', '-1', '4294967296', '1.5', ' 1000', '0x10', ''])('rejects PUID %j naming PUID', (puid) => {
    if (puid === '') {
      expect(specFromPuidPgid('', undefined)).toBeUndefined();
      return;
    }
    const err = failure(['x'], { PUID: puid });
    expect(err.exitCode).toBe(125);
    expect(err.message).toContain('PUID');
    expect(err.message).toContain(puid.trim());
  });

  it('takes a value that starts with "-" as the value of the option before it', () => {
    expect(parse(['--user', '-1', 'x']).user.value).toBe('-1');
    expect(parse(['--dir', '/a', '--user', 'app', 'x']).positionals).toEqual(['x']);
  });

  it('rejects PGID without PUID', () => {
    expect(failure(['x'], { PGID: '1000' }).message).toMatch(/PGID=.*1000.* is set but PUID is not/);
  });
});

describe('parseSize', () => {
  it.each([['5G', 5 * 1024 ** 3], ['500M', 500 * 1024 ** 2], ['1024', 1024], ['1.5K', 1536], ['2GiB', 2 * 1024 ** 3]])('%s', (text, bytes) => {
    expect(parseSize(text, 'x')).toBe(bytes);
  });
});

describe('property: any argv and environment parses or fails with a 125 naming the problem', () => {
  const token = fc.oneof(
    fc.string(),
    fc.constantFrom('--root', '--dir', '--preset', '--user', '--strict', '--', '--print-plan', '--min-free', '--log-level', 'check', 'fix-permissions', '--config', '/x', 'bark', '-h', '--format=json'),
  );
  it('argv', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), fc.dictionary(fc.constantFrom('PUID', 'PGID', 'HF_HOME', 'MODEL_ENTRYPOINT_PRESETS', 'MODEL_ENTRYPOINT_DIRS', 'LOG_LEVEL', 'MODEL_ENTRYPOINT_STRICT'), fc.string()), (argv, env) => {
        try {
          parse(argv, env);
        } catch (err) {
          expect(err).toBeInstanceOf(EntrypointError);
          expect((err as EntrypointError).exitCode).toBe(125);
          expect((err as EntrypointError).message.length).toBeGreaterThan(5);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('shared variables and odd values', () => {
  it.each([['INFO', 'info'], ['Warning', 'warn'], ['CRITICAL', 'fatal'], ['debug', 'debug']])('LOG_LEVEL=%s is %s', (raw, level) => {
    expect(parse(['x'], { LOG_LEVEL: raw }).logLevel.value).toBe(level);
  });
  it.each([['text', 'pretty'], ['JSON', 'json'], ['console', 'pretty']])('LOG_FORMAT=%s is %s', (raw, format) => {
    expect(parse(['x'], { LOG_FORMAT: raw }).logFormat.value).toBe(format);
  });
  it('rejects a path with a carriage return (a CRLF .env file) and says why', () => {
    const err = failure(['x'], { HF_HOME: '/app/models\r' });
    expect(err.message).toMatch(/HF_HOME contains the control character "\\r"/);
    expect(err.hint).toMatch(/line endings/);
  });
  it('explains that ~ is not expanded', () => {
    expect(failure(['x'], { HF_HOME: '~/.cache/huggingface' }).hint).toMatch(/does not expand ~/);
  });
  it('accepts Kubernetes-style sizes', () => {
    expect(parseSize('5Gi', 'x')).toBe(5 * 1024 ** 3);
  });
});

describe('fix-permissions arguments', () => {
  it('takes options after the directories', () => {
    const o = parse(['fix-permissions', './models', '--user', '2000:2000', '/data']);
    expect(o.user.value).toBe('2000:2000');
    expect(o.positionals).toEqual(['models', '/data']);
  });
  it('still refuses an unknown option after a directory', () => {
    expect(failure(['fix-permissions', './models', '--usr', '1']).message).toMatch(/unknown option --usr/);
  });
});
