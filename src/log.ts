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
      : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      // The one error line of a failing exit is always written, even with LOG_LEVEL=fatal or silent.
      level: level === 'fatal' || level === 'silent' ? 'error' : level,
      base: { name: 'model-entrypoint', pid: process.pid },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => scrubSecrets(line, secrets) },
    },
    destination,
  );
}

/** pino-pretty is only loaded when asked for: most containers log JSON. */
function prettyStream(): pino.DestinationStream {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty.build({ destination: 2, sync: true, colorize: false, ignore: 'pid,name', translateTime: 'SYS:HH:MM:ss.l' });
}

/** Milliseconds since `start` (performance.now()), rounded to 0.1 ms. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
