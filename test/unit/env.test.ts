import { describe, expect, it } from 'vitest';
import { computeServiceEnv, displayArgv, extendPythonWarnings, isSecretName, secretValues } from '../../src/env.js';
import { scrubSecrets } from '../../src/log.js';

const base = { hfHome: '/app/models', cacheHome: '/app/.cache', silenceWarnings: [] as string[] };

describe('computeServiceEnv', () => {
  it('sets HF_HOME and XDG_CACHE_HOME and leaves the rest untouched', () => {
    const r = computeServiceEnv({ ...base, env: { PATH: '/bin', FOO: 'bar' } });
    expect(r.env).toEqual({ PATH: '/bin', FOO: 'bar', HF_HOME: '/app/models', XDG_CACHE_HOME: '/app/.cache' });
    expect(r.hubCache).toBe('/app/models/hub');
  });

  it('migrates TRANSFORMERS_CACHE into HF_HUB_CACHE and unsets it', () => {
    const r = computeServiceEnv({ ...base, env: { TRANSFORMERS_CACHE: '/data/tc/' } });
    expect(r.env.HF_HUB_CACHE).toBe('/data/tc');
    expect('TRANSFORMERS_CACHE' in r.env).toBe(false);
    expect(r.hubCache).toBe('/data/tc');
    expect(r.changes).toContainEqual(expect.objectContaining({ action: 'migrated', name: 'HF_HUB_CACHE', from: 'TRANSFORMERS_CACHE' }));
    expect(r.changes).toContainEqual(expect.objectContaining({ action: 'unset', name: 'TRANSFORMERS_CACHE' }));
  });

  it('follows transformers precedence between the three legacy variables', () => {
    const r = computeServiceEnv({ ...base, env: { PYTORCH_PRETRAINED_BERT_CACHE: '/bert', PYTORCH_TRANSFORMERS_CACHE: '/pt' } });
    expect(r.env.HF_HUB_CACHE).toBe('/pt');
    expect(Object.keys(r.env).filter((k) => k.startsWith('PYTORCH'))).toEqual([]);
  });

  it('exports nothing when the legacy cache is already $HF_HOME/hub', () => {
    const r = computeServiceEnv({ ...base, env: { TRANSFORMERS_CACHE: '/app/models/hub' } });
    expect(r.env.HF_HUB_CACHE).toBeUndefined();
    expect(r.env.TRANSFORMERS_CACHE).toBeUndefined();
  });

  it('keeps HF_HUB_CACHE on conflict and names both paths', () => {
    const r = computeServiceEnv({ ...base, env: { TRANSFORMERS_CACHE: '/old', HF_HUB_CACHE: '/new' } });
    expect(r.env.HF_HUB_CACHE).toBe('/new');
    const conflict = r.changes.find((c) => c.action === 'conflict');
    expect(conflict?.reason).toContain('/old');
    expect(conflict?.reason).toContain('/new');
  });

  it('rejects a relative legacy cache naming the variable', () => {
    expect(() => computeServiceEnv({ ...base, env: { TRANSFORMERS_CACHE: 'cache' } })).toThrow(/TRANSFORMERS_CACHE="cache" is not an absolute path/);
  });

  it('gives a non-root service without usable HOME the root of the model directories, never /', () => {
    expect(computeServiceEnv({ ...base, env: { HOME: '/' }, homeFallback: '/app' }).env.HOME).toBe('/app');
    expect(computeServiceEnv({ ...base, env: {}, homeFallback: '/app' }).env.HOME).toBe('/app');
    expect(computeServiceEnv({ ...base, env: { HOME: '/home/me' }, homeFallback: '/app' }).env.HOME).toBe('/home/me');
    expect(computeServiceEnv({ ...base, env: { HOME: '/' } }).env.HOME).toBe('/');
  });

  it('sets HOME, USER and LOGNAME for a switched user', () => {
    const r = computeServiceEnv({ ...base, env: { HOME: '/root' }, switchedUser: { home: '/home/app', name: 'app' } });
    expect(r.env).toMatchObject({ HOME: '/home/app', USER: 'app', LOGNAME: 'app' });
  });
});

describe('extendPythonWarnings', () => {
  it('puts our filters first so the user filters keep precedence, without duplicates', () => {
    const once = extendPythonWarnings('error::DeprecationWarning', ['pkg_resources']);
    expect(once.split(',').at(-1)).toBe('error::DeprecationWarning');
    expect(once).toMatch(/^ignore:pkg_resources is deprecated as an API,/);
    expect(extendPythonWarnings(once, ['pkg_resources'])).toBe(once);
  });
  it('is empty for no names and no user filters', () => {
    expect(extendPythonWarnings(undefined, [])).toBe('');
  });
});

describe('secrets', () => {
  it.each(['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'OPENAI_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD', 'MY_SECRET'])('%s is secret', (n) => {
    expect(isSecretName(n)).toBe(true);
  });
  it.each(['HF_HOME', 'PATH', 'PUID', 'KEYBOARD'])('%s is not secret', (n) => {
    expect(isSecretName(n)).toBe(false);
  });
  it('scrubs raw and JSON-escaped values', () => {
    const secrets = secretValues({ HF_TOKEN: 'hf_abc"def', PATH: '/bin' });
    expect(scrubSecrets('{"v":"hf_abc\\"def"} and hf_abc"def', secrets)).toBe('{"v":"[REDACTED]"} and [REDACTED]');
  });
});

describe('what may be shown of secrets', () => {
  it('does not treat setting-like values under secret names as secrets', () => {
    expect(secretValues({ REDIS_PASSWORD_ENABLED: 'true', SOME_KEY: 'info', PIN_KEY: '1234', HF_TOKEN: 'hf_realtoken123' })).toEqual(['hf_realtoken123']);
  });
  it('hides secret flags, NAME=value, URL passwords and HF tokens in argv', () => {
    expect(displayArgv(['serve', '--token', 'abc123', '--api-key=xyz789', 'HF_TOKEN=t0k3n', 'https://u:pw@host/x', 'hf_abcdefghijklmnopqrstu', '--port', '80'])).toEqual([
      'serve', '--token', '[REDACTED]', '--api-key=[REDACTED]', 'HF_TOKEN=[REDACTED]', 'https://u:[REDACTED]@host/x', '[REDACTED]', '--port', '80',
    ]);
  });
  it('shortens huge arguments and argument lists', () => {
    const shown = displayArgv(['x'.repeat(100_000), ...Array.from({ length: 100 }, (_, i) => String(i))]);
    expect(shown).toHaveLength(65);
    expect(shown[0]).toMatch(/\.\.\.\(100000 characters\)$/);
    expect(shown.at(-1)).toBe('...(37 more arguments)');
  });
});
