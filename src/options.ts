// The one place where the command line, the environment and the config file become validated Options.
// Precedence: flag > environment > config file > default. Every value remembers where it came from.
import { parseArgs } from 'node:util';
import { join, normalize } from './paths.js';
import { usageError } from './errors.js';
import { specFromPuidPgid } from './users.js';

export type Mode = 'run' | 'check' | 'fix-permissions';
export type Source = 'flag' | 'env' | 'config' | 'default';
export type RepairPolicy = 'on-root-mismatch' | 'always' | 'never';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export const PRESETS = ['hf', 'bark', 'torch'] as const;
export type Preset = (typeof PRESETS)[number];
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export const REPAIR_POLICIES: readonly RepairPolicy[] = ['on-root-mismatch', 'always', 'never'];

/** Known Python warning noise, by name, as PYTHONWARNINGS filters (message fields are literal prefixes). */
export const WARNING_FILTERS: Record<string, string[]> = {
  pkg_resources: [
    'ignore:pkg_resources is deprecated as an API',
    'ignore:Deprecated call to `pkg_resources.declare_namespace',
  ],
  transformers_cache: ['ignore:Using `TRANSFORMERS_CACHE` is deprecated'],
};

export interface Setting<T> {
  value: T;
  source: Source;
  /** The flag, variable or config key the value came from (for --print-plan). */
  origin?: string;
}

export interface Options {
  mode: Mode;
  printPlan: boolean;
  help: boolean;
  version: boolean;
  root: Setting<string>;
  hfHome: Setting<string>;
  cacheHome: Setting<string>;
  presets: Setting<Preset[]>;
  dirs: Setting<string[]>;
  user: Setting<string | undefined>;
  strict: Setting<boolean>;
  silenceWarnings: Setting<string[]>;
  repair: Setting<RepairPolicy>;
  minFree: Setting<number | undefined>;
  config: Setting<string | undefined>;
  format: Setting<'text' | 'json'>;
  logLevel: Setting<LogLevel>;
  logFormat: Setting<'json' | 'pretty'>;
  /** COMMAND [ARG...] for run mode; DIR... for fix-permissions. */
  positionals: string[];
}

type Kind = 'path' | 'paths' | 'string' | 'bool' | 'choice' | 'choices' | 'size';
interface OptionSpec {
  key: keyof Options;
  flag: string;
  kind: Kind;
  /** Environment variable; lists split on `separator`. */
  env?: string;
  separator?: string;
  choices?: readonly string[];
  /**
   * Other spellings accepted (case never matters). LOG_LEVEL and LOG_FORMAT are often set for the
   * service too (Python's LOG_LEVEL=INFO, LOG_FORMAT=text), so its usual values must not stop the start.
   */
  aliases?: Record<string, string>;
  /** Not a setting of the config file (config, format). */
  notInConfig?: boolean;
  arg?: string;
  help: string;
}

/** The option table: drives parsing, env and config lookup, validation and --help. */
export const OPTION_SPECS: OptionSpec[] = [
  { key: 'root', flag: 'root', kind: 'path', env: 'MODEL_ENTRYPOINT_ROOT', arg: 'DIR', help: 'base of the default directories (default /app)' },
  { key: 'hfHome', flag: 'hf-home', kind: 'path', env: 'HF_HOME', arg: 'DIR', help: 'Hugging Face home, exported as HF_HOME (default $ROOT/models)' },
  { key: 'cacheHome', flag: 'cache-home', kind: 'path', env: 'XDG_CACHE_HOME', arg: 'DIR', help: 'exported as XDG_CACHE_HOME (default $ROOT/.cache)' },
  { key: 'presets', flag: 'preset', kind: 'choices', choices: PRESETS, env: 'MODEL_ENTRYPOINT_PRESETS', separator: ',', arg: 'NAME', help: `library caches to prepare, repeatable: ${PRESETS.join(', ')} (default hf)` },
  { key: 'dirs', flag: 'dir', kind: 'paths', env: 'MODEL_ENTRYPOINT_DIRS', separator: ':', arg: 'DIR', help: 'extra directory to prepare, repeatable (env: colon list)' },
  { key: 'user', flag: 'user', kind: 'string', arg: 'SPEC', help: 'user the service runs as: uid, uid:gid, name, name:group, :gid, uid: (env: PUID + PGID)' },
  { key: 'strict', flag: 'strict', kind: 'bool', env: 'MODEL_ENTRYPOINT_STRICT', help: 'a directory that stays unwritable is fatal (exit 125)' },
  { key: 'silenceWarnings', flag: 'silence-warnings', kind: 'choices', choices: [...Object.keys(WARNING_FILTERS), 'none'], env: 'MODEL_ENTRYPOINT_SILENCE_WARNINGS', separator: ',', arg: 'LIST', help: `Python warning noise to filter via PYTHONWARNINGS: ${Object.keys(WARNING_FILTERS).join(', ')}, none (default pkg_resources)` },
  { key: 'repair', flag: 'repair', kind: 'choice', choices: REPAIR_POLICIES, env: 'MODEL_ENTRYPOINT_REPAIR', arg: 'POLICY', help: 'ownership repair as root with a target user: on-root-mismatch (default), always, never' },
  { key: 'minFree', flag: 'min-free', kind: 'size', env: 'MODEL_ENTRYPOINT_MIN_FREE', arg: 'SIZE', help: 'warn (check: unhealthy) when a directory has less free space, e.g. 5G, 500M' },
  { key: 'config', flag: 'config', kind: 'path', env: 'MODEL_ENTRYPOINT_CONFIG', notInConfig: true, arg: 'FILE', help: 'JSON file with the same settings (keys are the long flag names)' },
  { key: 'format', flag: 'format', kind: 'choice', choices: ['text', 'json'], notInConfig: true, arg: 'FMT', help: 'output of --print-plan and check: text (default) or json' },
  { key: 'logLevel', flag: 'log-level', kind: 'choice', choices: LOG_LEVELS, aliases: { warning: 'warn', critical: 'fatal', err: 'error' }, env: 'LOG_LEVEL', arg: 'LEVEL', help: `log level: ${LOG_LEVELS.join(', ')} (default info; any case, also warning, critical)` },
  { key: 'logFormat', flag: 'log-format', kind: 'choice', choices: ['json', 'pretty'], aliases: { text: 'pretty', plain: 'pretty', console: 'pretty', human: 'pretty' }, env: 'LOG_FORMAT', arg: 'FMT', help: 'json (default) or pretty (human lines; also text, plain, console)' },
];

const BOOLEAN_FLAGS = ['print-plan', 'help', 'version'] as const;
const SUBCOMMANDS: Record<string, Mode> = { check: 'check', 'fix-permissions': 'fix-permissions' };
const MAX_PATH = 4095;
const MAX_NAME = 255;

export const parseArgsOptions = Object.fromEntries([
  ...OPTION_SPECS.map((s) => [s.flag, { type: s.kind === 'bool' ? 'boolean' : 'string', multiple: s.kind === 'paths' || s.kind === 'choices' }]),
  ...BOOLEAN_FLAGS.map((f) => [f, { type: 'boolean' }]),
  ['h', { type: 'boolean' }],
]) as Parameters<typeof parseArgs>[0] extends infer P ? (P extends { options?: infer O } ? O : never) : never;

const takesValue = (flag: string) => OPTION_SPECS.some((s) => s.flag === flag && s.kind !== 'bool');

const HELP_HINT = 'run `model-entrypoint --help` for the options';

/**
 * What parseArgs returns for the plain forms splitArgv leaves (`--flag`, `--option=VALUE`, known names
 * only), without loading node's parse_args (~0.6 ms of start-up); undefined for anything else, which
 * then goes through parseArgs and its errors.
 */
export function plainValues(args: string[]): Record<string, string | boolean | string[]> | undefined {
  const values: Record<string, string | boolean | string[]> = Object.create(null);
  for (const arg of args) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    const spec = m && Object.hasOwn(parseArgsOptions, m[1]) ? parseArgsOptions[m[1]] : undefined;
    if (!m || !spec) return undefined;
    const [, name, value] = m;
    if (spec.type === 'boolean') {
      if (value !== undefined) return undefined;
      values[name] = true;
    } else {
      if (value === undefined) return undefined;
      if (spec.multiple) ((values[name] as string[] | undefined) ?? (values[name] = [])).push(value);
      else values[name] = value;
    }
  }
  return values;
}

/**
 * Splits argv into the wrapper's options and the rest (COMMAND [ARG...] or DIR...): options end at `--`
 * or at the first argument that is not an option, so the service's own flags are never ours
 * (`interleaved`: options may also come after the other arguments).
 */
function splitArgv(argv: string[], interleaved: boolean): { optionArgs: string[]; rest: string[]; dashdash: boolean } {
  const optionArgs: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return { optionArgs, rest: [...rest, ...argv.slice(i + 1)], dashdash: true };
    if (!arg.startsWith('-') || arg === '-') {
      if (!interleaved) return { optionArgs, rest: argv.slice(i), dashdash: false };
      rest.push(arg);
      continue;
    }
    const name = arg.replace(/^--?/, '');
    if (!name.includes('=') && takesValue(name)) {
      if (i + 1 >= argv.length) throw usageError(`option --${name} needs a value`, `give it as --${name} VALUE; ${HELP_HINT}`, { option: `--${name}` });
      // Joined, so that a value starting with "-" (--user -1) is a value, not an option.
      optionArgs.push(`--${name}=${argv[++i]}`);
    } else {
      optionArgs.push(arg);
    }
  }
  return { optionArgs, rest, dashdash: false };
}

/** Everything parseCommandLine needs from the outside world, injectable for tests. */
export interface OptionInputs {
  argv: string[];
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
}

export function parseCommandLine({ argv, env, readFile }: OptionInputs): Options {
  let mode: Mode = 'run';
  let args = argv;
  if (args.length > 0 && SUBCOMMANDS[args[0]]) {
    mode = SUBCOMMANDS[args[0]];
    args = args.slice(1);
  }
  // fix-permissions runs no command, so its options may follow the directories (`fix-permissions DIR --user U`).
  const { optionArgs, rest, dashdash } = splitArgv(args, mode === 'fix-permissions');
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = plainValues(optionArgs) ?? parseArgs({ args: optionArgs, options: parseArgsOptions, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const text = (err as Error).message;
    const bad = /'(-[^']*)'/.exec(text)?.[1] ?? optionArgs.find((a) => a.startsWith('-')) ?? '';
    const unknown = (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    throw usageError(
      unknown ? `unknown option ${bad}` : `invalid option ${bad}: ${text.split('.')[0]}`,
      unknown ? `${HELP_HINT}; put the service command after \`--\` if it starts with "-"` : HELP_HINT,
      { option: bad },
    );
  }

  const configPath = settingFor(OPTION_SPECS.find((s) => s.key === 'config')!, values, env, {}, undefined);
  const config = configPath.value ? loadConfig(configPath.value as string, readFile) : {};
  const configFile = configPath.value as string | undefined;

  const setting = (key: keyof Options) => settingFor(OPTION_SPECS.find((s) => s.key === key)!, values, env, config, configFile);
  const root = orDefault(setting('root'), '/app');
  const opts: Options = {
    mode,
    printPlan: values['print-plan'] === true,
    help: values.help === true || values.h === true,
    version: values.version === true,
    root: root as Setting<string>,
    hfHome: orDefault(setting('hfHome'), join(root.value as string, 'models')) as Setting<string>,
    cacheHome: orDefault(setting('cacheHome'), join(root.value as string, '.cache')) as Setting<string>,
    presets: orDefault(setting('presets'), ['hf']) as Setting<Preset[]>,
    dirs: orDefault(setting('dirs'), []) as Setting<string[]>,
    user: userSetting(values, env, config, configFile),
    strict: orDefault(setting('strict'), false) as Setting<boolean>,
    silenceWarnings: orDefault(setting('silenceWarnings'), ['pkg_resources']) as Setting<string[]>,
    repair: orDefault(setting('repair'), 'on-root-mismatch') as Setting<RepairPolicy>,
    minFree: orDefault(setting('minFree'), undefined) as Setting<number | undefined>,
    config: configPath as Setting<string | undefined>,
    format: orDefault(setting('format'), 'text') as Setting<'text' | 'json'>,
    logLevel: orDefault(setting('logLevel'), 'info') as Setting<LogLevel>,
    logFormat: orDefault(setting('logFormat'), 'json') as Setting<'json' | 'pretty'>,
    positionals: rest,
  };
  if (opts.silenceWarnings.value.includes('none')) opts.silenceWarnings = { ...opts.silenceWarnings, value: [] };
  opts.presets.value = [...new Set(opts.presets.value)];

  if (opts.help || opts.version) return opts;
  if (mode === 'run' && !opts.printPlan && rest.length === 0) {
    throw usageError(
      dashdash ? 'no service command after `--`' : 'no service command given',
      'give the command to run, e.g. `model-entrypoint -- python app.py` (in a Dockerfile: ENTRYPOINT ["model-entrypoint"] and the service as CMD)',
    );
  }
  if (mode === 'run' && rest.length > 0 && rest[0] === '') {
    throw usageError('the service command is an empty string', 'give the program to run as the first argument after the options');
  }
  if (mode === 'check' && rest.length > 0) {
    throw usageError(`check takes no arguments, got "${rest[0]}"`, `configure check with options or environment; ${HELP_HINT}`);
  }
  if (mode === 'fix-permissions') {
    if (rest.length === 0) throw usageError('fix-permissions needs at least one DIR', 'e.g. `model-entrypoint fix-permissions --user 1000:1000 ./services/models/bark`');
    opts.positionals = rest.map((p) => validatePath(p, 'DIR argument', true));
  }
  return opts;
}

function orDefault<T>(s: Setting<unknown>, fallback: T): Setting<T> {
  return s.source === 'default' ? { value: fallback, source: 'default' } : (s as Setting<T>);
}

/** Resolves one option through flag > env > config, validating the winning value. */
function settingFor(
  spec: OptionSpec,
  values: Record<string, unknown>,
  env: Record<string, string | undefined>,
  config: Record<string, unknown>,
  configFile: string | undefined,
): Setting<unknown> {
  const flagValue = values[spec.flag];
  if (flagValue !== undefined) return { value: convert(spec, flagValue, `--${spec.flag}`), source: 'flag', origin: `--${spec.flag}` };
  const envValue = spec.env ? env[spec.env] : undefined;
  // An empty variable (`HF_HOME=` in a compose file) counts as unset.
  if (spec.env && envValue !== undefined && envValue !== '') {
    const raw = spec.separator ? envValue.split(spec.separator).map((s) => s.trim()).filter((s) => s !== '') : envValue;
    return { value: convert(spec, raw, spec.env), source: 'env', origin: spec.env };
  }
  if (!spec.notInConfig && config[spec.flag] !== undefined) {
    const origin = `${configFile}: "${spec.flag}"`;
    return { value: convert(spec, config[spec.flag], `config key "${spec.flag}" in ${configFile}`), source: 'config', origin };
  }
  return { value: undefined, source: 'default' };
}

/** Converts and validates a raw value; `where` names the input in error messages. */
function convert(spec: OptionSpec, raw: unknown, where: string): unknown {
  switch (spec.kind) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false;
      throw usageError(`${where} must be a boolean (1/0, true/false), got ${JSON.stringify(raw)}`, HELP_HINT, { input: where });
    case 'path':
      return validatePath(raw, where);
    case 'paths':
      return asList(raw, where).map((p) => validatePath(p, where));
    case 'string':
      return validateString(raw, where);
    case 'choice':
      return validateChoice(validateString(raw, where), spec, where);
    case 'choices':
      return asList(raw, where).flatMap((v) => (spec.separator && v.includes(spec.separator) ? v.split(spec.separator) : [v]))
        .map((v) => v.trim()).filter((v) => v !== '').map((v) => validateChoice(v, spec, where));
    case 'size':
      return parseSize(validateString(raw, where), where);
  }
}

function asList(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (!list.every((v) => typeof v === 'string')) {
    throw usageError(`${where} must be a string or a list of strings, got ${JSON.stringify(raw)}`, HELP_HINT, { input: where });
  }
  return list as string[];
}

function validateString(raw: unknown, where: string): string {
  if (typeof raw !== 'string') throw usageError(`${where} must be a string, got ${describeJson(raw)}`, HELP_HINT, { input: where });
  if (raw.includes('\0')) throw usageError(`${where} contains a NUL byte`, 'remove the NUL character from the value', { input: where });
  return raw;
}

function validateChoice(raw: string, spec: OptionSpec, where: string): string {
  const lower = raw.trim().toLowerCase();
  const value = spec.aliases?.[lower] ?? lower;
  if (!spec.choices!.includes(value)) {
    throw usageError(`${where}: unknown value ${JSON.stringify(raw)}`, `use one of: ${spec.choices!.join(', ')}`, { input: where, value: raw });
  }
  return value;
}

/** Directories must be absolute; they are normalised (no `.`/`..`, no trailing slash). */
export function validatePath(raw: unknown, where: string, allowRelative = false): string {
  const value = validateString(raw, where);
  if (value === '') throw usageError(`${where} is empty`, 'give an absolute directory path such as /app/models', { input: where });
  const control = /[\x00-\x1f\x7f]/.exec(value);
  if (control) {
    const shown = JSON.stringify(control[0]);
    throw usageError(`${where} contains the control character ${shown}: ${JSON.stringify(value)}`, control[0] === '\r' ? 'the value ends in a carriage return: save the .env/compose file with Unix (LF) line endings' : 'remove the control character from the path', { input: where, path: value });
  }
  if (!allowRelative && !value.startsWith('/')) {
    const hint = value.startsWith('~') ? 'write the absolute path: the entrypoint does not expand ~ (e.g. /app/models)' : 'write the absolute path inside the container, e.g. /app/models';
    throw usageError(`${where} must be an absolute path, got ${JSON.stringify(value)}`, hint, { input: where, path: value });
  }
  if (value.length > MAX_PATH) throw usageError(`${where} is ${value.length} characters long, more than the limit of ${MAX_PATH}`, 'use a shorter path', { input: where });
  const long = value.split('/').find((c) => Buffer.byteLength(c) > MAX_NAME);
  if (long !== undefined) throw usageError(`${where} has a path component longer than ${MAX_NAME} bytes ("${long.slice(0, 40)}...")`, 'use shorter directory names', { input: where });
  const normal = normalize(value);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `5G`, `500M`, `1.5T`, `1024` (bytes); units are binary (K = 1024). */
export function parseSize(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:iB|i|B)?$/i.exec(text.trim());
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()] : NaN;
  if (!m || !Number.isFinite(bytes) || bytes > Number.MAX_SAFE_INTEGER) {
    throw usageError(`${where}: "${text}" is not a size`, 'write a number with an optional unit K, M, G or T, e.g. 5G or 500M', { input: where, value: text });
  }
  return Math.floor(bytes);
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

const CONFIG_TYPES: Record<Kind, string> = {
  path: 'an absolute path string', paths: 'a list of absolute path strings', string: 'a string', bool: 'a boolean',
  choice: 'a string', choices: 'a list of strings', size: 'a size string such as "5G"',
};

/** Reads the JSON config file: an object whose keys are long flag names. Unknown keys and wrong types are errors. */
function loadConfig(path: string, readFile: (p: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw usageError(`cannot read config file ${path} (${code})`, 'check the --config / MODEL_ENTRYPOINT_CONFIG path and that the file is mounted into the container', { input: path, error_code: code });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw usageError(`config file ${path} is not valid JSON: ${(err as Error).message}`, 'fix the JSON syntax (keys and strings need double quotes, no trailing commas)', { input: path });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw usageError(`config file ${path} must hold a JSON object, got ${describeJson(data)}`, 'write it as {"preset": ["hf", "bark"], "dir": ["/app/data"]}', { input: path });
  }
  const allowed = OPTION_SPECS.filter((s) => !s.notInConfig);
  for (const [key, value] of Object.entries(data)) {
    const spec = allowed.find((s) => s.flag === key);
    if (!spec) {
      throw usageError(`config file ${path}: unknown key "${key}"`, `allowed keys: ${allowed.map((s) => s.flag).join(', ')}`, { input: path, key });
    }
    const okType = spec.kind === 'bool' ? typeof value === 'boolean'
      : spec.kind === 'paths' || spec.kind === 'choices' ? typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      : typeof value === 'string';
    if (!okType) {
      throw usageError(`config file ${path}: key "${key}" must be ${CONFIG_TYPES[spec.kind]}, got ${describeJson(value)}`, `fix the value of "${key}"`, { input: path, key, expected: CONFIG_TYPES[spec.kind] });
    }
  }
  return data as Record<string, unknown>;
}

/** --user > PUID/PGID > config "user". PUID/PGID are exactly `--user PUID:PGID`. */
function userSetting(values: Record<string, unknown>, env: Record<string, string | undefined>, config: Record<string, unknown>, configFile?: string): Setting<string | undefined> {
  if (values.user !== undefined) {
    const spec = validateString(values.user, '--user');
    if (spec === '') throw usageError('--user is empty', 'give a user such as 1000:1000 or appuser', { input: '--user' });
    return { value: spec, source: 'flag', origin: '--user' };
  }
  const fromEnv = specFromPuidPgid(env.PUID, env.PGID);
  if (fromEnv) return { value: fromEnv, source: 'env', origin: env.PGID ? 'PUID, PGID' : 'PUID' };
  if (config.user !== undefined) return { value: config.user as string, source: 'config', origin: `${configFile}: "user"` };
  return { value: undefined, source: 'default' };
}
