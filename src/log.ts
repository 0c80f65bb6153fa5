// Structured logging: pino JSON lines on stderr, written synchronously because process.execve replaces
// the process and would lose anything still queued. Secret values are scrubbed from every line.
import pino, { type Logger } from 'pino';
import type { LogLevel } from './options.js';

export type { Logger };

const REDACTED = '[REDACTED]';

/** Replaces every occurrence of each secret (raw or JSON-escaped) in `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      if (form && out.includes(form)) out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'pretty';
  secrets: readonly string[];
  /** Where lines go; stderr (fd 2) by default. Tests pass a collector. */
  write?: (line: string) => void;
}

export function createLogger({ level, format, secrets, write }: LoggerOptions): Logger {
  const destination = write
    ? { write }
    : format === 'pretty'
      ? prettyStream()
      : // `dest`, not `fd`: pino reads process.stdout.fd when `dest` is missing, and creating process.stdout costs ~2 ms.
        pino.destination({ dest: 2, sync: true });
  return pino(
    {
      // The one error line of a failing exit is always written, even with LOG_LEVEL=fatal or silent.
      level: level === 'fatal' || level === 'silent' ? 'error' : level,
      base: { name: 'model-entrypoint', pid: process.pid },
      messageKey: 'msg',
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => scrubSecrets(line, secrets) },
    },
    destination,
  );
}

/**
 * pino.stdTimeFunctions.isoTime, same text, without Date#toISOString: V8's date formatting looks up the
 * local time-zone name even for ISO output, which maps ICU's time-zone data (~0.6 MB) into every start.
 */
function isoTime(): string {
  return `,"time":"${isoString(Date.now())}"`;
}

/** `new Date(ms).toISOString()` for years 0..9999 (the calendar arithmetic of H. Hinnant's days_from_civil, inverted). */
export function isoString(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const inDay = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return new Date(ms).toISOString();
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(Math.floor(inDay / 3_600_000), 2)}:${pad(Math.floor(inDay / 60_000) % 60, 2)}:${pad(Math.floor(inDay / 1000) % 60, 2)}.${pad(inDay % 1000, 3)}Z`;
}

/** pino-pretty is only loaded when asked for: most containers log JSON. */
function prettyStream(): pino.DestinationStream {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty.build({ destination: 2, sync: true, colorize: false, ignore: 'pid,name', translateTime: 'SYS:HH:MM:ss.l' });
}

/**
 * Monotonic milliseconds. process.hrtime rather than performance.now(): the `performance` global
 * loads perf_hooks (about 1 ms of start-up) and nothing else here needs it.
 */
export function now(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/** Milliseconds since `start` (from now()), rounded to 0.1 ms. */
export function since(start: number): number {
  return Math.round((now() - start) * 10) / 10;
}
