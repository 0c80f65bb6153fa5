// Pure rules for the environment the service receives. Everything not named here passes through untouched.
import { join, normalize } from './paths.js';
import { usageError } from './errors.js';
import { WARNING_FILTERS } from './options.js';

export type Env = Record<string, string | undefined>;

export interface EnvChange {
  action: 'set' | 'migrated' | 'unset' | 'conflict' | 'kept';
  name: string;
  value?: string;
  /** For migrations and conflicts: the variable the value came from / the one that wins. */
  from?: string;
  reason: string;
}

/** transformers reads these in this order and used the first one set as the hub cache itself. */
export const LEGACY_CACHE_VARS = ['TRANSFORMERS_CACHE', 'PYTORCH_TRANSFORMERS_CACHE', 'PYTORCH_PRETRAINED_BERT_CACHE'] as const;

/** huggingface_hub: HF_HUB_CACHE, else the older HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub. */
export function hubCacheFromEnv(env: Env): { path?: string; name?: string } {
  for (const name of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE']) {
    if (env[name]) return { path: env[name], name };
  }
  return {};
}

export interface EnvInputs {
  env: Env;
  hfHome: string;
  cacheHome: string;
  silenceWarnings: string[];
  /** Set when the user is switched: HOME (passwd home, or $ROOT without an entry) and the user name. */
  switchedUser?: { home: string; name?: string };
  /**
   * HOME for a non-root service that was not switched but has no usable HOME (unset, or `/` as Docker and
   * OpenShift give a uid without passwd entry): every `~/.cache` write would fail there.
   */
  homeFallback?: string;
}

export interface EnvResult {
  env: Env;
  changes: EnvChange[];
  /** The hub cache the service will use (prepared by the hf preset). */
  hubCache: string;
}

const norm = (p: string) => (p.length > 1 ? normalize(p).replace(/\/+$/, '') : p);

export function computeServiceEnv({ env, hfHome, cacheHome, silenceWarnings, switchedUser, homeFallback }: EnvInputs): EnvResult {
  const out: Env = { ...env };
  const changes: EnvChange[] = [];
  const set = (name: string, value: string, reason: string, action: EnvChange['action'] = 'set', from?: string) => {
    if (action === 'set' && out[name] === value) return;
    out[name] = value;
    changes.push({ action, name, value, from, reason });
  };

  set('HF_HOME', hfHome, 'Hugging Face home (models, tokens, hub cache)');
  set('XDG_CACHE_HOME', cacheHome, 'cache base used by Bark, torch and other libraries');

  const legacyName = LEGACY_CACHE_VARS.find((n) => env[n]);
  const defaultHub = join(hfHome, 'hub');
  const explicitHub = hubCacheFromEnv(env);
  let hubCache = explicitHub.path ? norm(explicitHub.path) : defaultHub;
  if (legacyName) {
    const legacy = env[legacyName]!;
    if (!legacy.startsWith('/')) {
      throw usageError(`${legacyName}="${legacy}" is not an absolute path`, `set HF_HUB_CACHE to an absolute path instead and remove ${legacyName}`, { input: legacyName });
    }
    const legacyPath = norm(legacy);
    if (explicitHub.path) {
      if (norm(explicitHub.path) !== legacyPath) {
        changes.push({ action: 'conflict', name: explicitHub.name!, value: explicitHub.path, from: legacyName, reason: `${legacyName}=${legacyPath} differs from ${explicitHub.name}=${explicitHub.path}; keeping ${explicitHub.name} (models stored under ${legacyPath} will not be found there: move them or remove ${legacyName})` });
      }
    } else if (legacyPath === defaultHub) {
      changes.push({ action: 'kept', name: legacyName, value: legacyPath, reason: `${legacyName} already points at $HF_HOME/hub, the default hub cache, so HF_HUB_CACHE is not needed (${legacyName} itself is unset below)` });
    } else {
      set('HF_HUB_CACHE', legacyPath, `${legacyName} is deprecated; transformers used it as the hub cache, so HF_HUB_CACHE keeps models where they are (no new download)`, 'migrated', legacyName);
      hubCache = legacyPath;
    }
  }
  for (const name of LEGACY_CACHE_VARS) {
    if (name in out) {
      delete out[name];
      changes.push({ action: 'unset', name, reason: 'deprecated by transformers (FutureWarning at import); replaced by HF_HOME / HF_HUB_CACHE' });
    }
  }

  const filters = extendPythonWarnings(env.PYTHONWARNINGS, silenceWarnings);
  if (filters !== (env.PYTHONWARNINGS ?? '') && filters !== '') set('PYTHONWARNINGS', filters, `silence known noise: ${silenceWarnings.join(', ')}`);

  if (!switchedUser && homeFallback && (!env.HOME || env.HOME === '/')) {
    set('HOME', homeFallback, `HOME was ${env.HOME ? '"/"' : 'unset'}, where the service cannot write ~/.cache: using the root of the model directories`);
  }
  if (switchedUser) {
    set('HOME', switchedUser.home, 'home of the service user');
    if (switchedUser.name) {
      set('USER', switchedUser.name, 'name of the service user');
      set('LOGNAME', switchedUser.name, 'name of the service user');
    }
  }
  return { env: out, changes, hubCache };
}

/**
 * Adds our filters to PYTHONWARNINGS. Python gives later entries precedence, so ours go BEFORE the
 * user's: the user's own filters keep winning. Filters already present are not added twice.
 */
export function extendPythonWarnings(current: string | undefined, names: string[]): string {
  const existing = (current ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const ours = names.flatMap((n) => WARNING_FILTERS[n] ?? []).filter((f) => !existing.includes(f));
  return [...ours, ...existing].join(',');
}

const SECRET_NAME = /(_TOKEN|_KEY|_SECRET)$|PASSWORD|^HF_TOKEN$|^TOKEN$|SECRET|CREDENTIAL|PASSWD/i;

/** Names whose values must never appear in a log line or plan. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Values that are settings, not secrets, even under a secret-looking name (REDIS_PASSWORD_ENABLED=true):
 * scrubbing them would mangle every log line ("level":"[REDACTED]") and break JSON output.
 */
const NOT_SECRET_VALUE = /^(true|false|null|none|yes|no|on|off|enabled|disabled|trace|debug|info|warn|warning|error|fatal|silent|json|text|pretty|[\d.:-]+)$/i;
const MIN_SECRET_LENGTH = 6;

/** The secret values present in an environment, longest first (short and setting-like values are skipped). */
export function secretValues(env: Env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => isSecretName(name) && value !== undefined && value.length >= MIN_SECRET_LENGTH && !NOT_SECRET_VALUE.test(value))
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

const SECRET_FLAG = /^--?[\w.-]*(token|key|secret|password|passwd|credential|auth)s?$/i;
const MAX_SHOWN_ARGS = 64;
const MAX_SHOWN_ARG_LENGTH = 256;

/** Hides what looks like a secret inside one argument: URL passwords, Hugging Face tokens. */
function redactInline(arg: string): string {
  // Each pattern only where its literal part occurs: compiling the regexes costs ~0.3 ms of a start.
  let out = arg;
  if (out.includes('://')) out = out.replace(/(:\/\/[^/\s:@]*:)[^@\s/]+@/g, '$1[REDACTED]@');
  if (out.includes('hf_')) out = out.replace(/\bhf_[A-Za-z0-9]{16,}\b/g, '[REDACTED]');
  return out;
}

/**
 * The service's argv as it may be logged or printed: values of secret-looking flags (`--token X`,
 * `--api-key=X`), `NAME=value` with a secret name, URL passwords and Hugging Face tokens are replaced,
 * and very long arguments or argument lists are shortened (a log line is not a data channel).
 */
export function displayArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length && out.length < MAX_SHOWN_ARGS; i++) {
    let arg = argv[i];
    const eq = arg.indexOf('=');
    if (i > 0 && SECRET_FLAG.test(argv[i - 1]) && !argv[i - 1].includes('=')) arg = '[REDACTED]';
    else if (eq > 0 && (SECRET_FLAG.test(arg.slice(0, eq)) || isSecretName(arg.slice(0, eq)))) arg = `${arg.slice(0, eq)}=[REDACTED]`;
    else arg = redactInline(arg);
    out.push(arg.length > MAX_SHOWN_ARG_LENGTH ? `${arg.slice(0, MAX_SHOWN_ARG_LENGTH)}...(${arg.length} characters)` : arg);
  }
  if (argv.length > MAX_SHOWN_ARGS) out.push(`...(${argv.length - MAX_SHOWN_ARGS} more arguments)`);
  return out;
}
