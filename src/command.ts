// Finding the service's program the way execvp(3) does: process.execve does no PATH lookup.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from './paths.js';
import { EXIT } from './errors.js';

/** glibc's execvp uses this when PATH is unset. */
export const DEFAULT_PATH = '/bin:/usr/bin';

export type CandidateKind = 'missing' | 'file' | 'directory' | 'other';

export interface Candidate {
  kind: CandidateKind;
  /** Can the service user execute it (x permission for them)? Only meaningful for files. */
  executable: boolean;
  error_code?: string;
  /**
   * What execve would say of the file's first bytes: a script without `#!` (ENOEXEC), or a `#!` naming
   * an interpreter that does not exist (ENOENT). Known before anything is prepared, unlike execve's answer.
   */
  format?: 'ok' | 'no-shebang' | 'missing-interpreter';
  interpreter?: string;
}

/** Reads the first bytes of an executable file the way the kernel's exec would judge them. */
export function inspectExecutable(path: string): Pick<Candidate, 'format' | 'interpreter'> {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, readSync(fd, head, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return {}; // unreadable (x without r): execve will tell
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return { format: 'ok' };
  if (head.subarray(0, 2).toString('latin1') !== '#!') return { format: 'no-shebang' };
  const interpreter = head.subarray(2).toString('latin1').split('\n')[0].trim().split(/[ \t]/)[0];
  if (!interpreter.startsWith('/') || existsSync(interpreter)) return { format: 'ok', interpreter };
  return { format: 'missing-interpreter', interpreter };
}

export interface ResolvedCommand {
  /** argv[0] as given. */
  name: string;
  /** Absolute or cwd-relative path that will be exec'd, when found. */
  path?: string;
  /** Every path looked at, in order (for --print-plan). */
  searched: string[];
  error?: { exitCode: number; code: string; message: string; hint: string };
}

/**
 * execvp semantics: a name with a slash is used as is; otherwise each PATH entry is tried in order
 * (an empty entry is the current directory). A candidate that exists but cannot be executed makes the
 * result 126 (EACCES) unless a later entry works; nothing at all is 127.
 */
export function resolveCommand(name: string, pathVar: string | undefined, look: (path: string) => Candidate): ResolvedCommand {
  if (name.includes('/')) {
    const c = look(name);
    return { name, searched: [name], ...judge(name, c) };
  }
  const dirs = (pathVar ?? DEFAULT_PATH).split(':');
  const searched: string[] = [];
  let denied: { path: string; c: Candidate } | undefined;
  for (const dir of dirs) {
    const full = dir === '' ? name : join(dir, name);
    searched.push(full);
    const c = look(full);
    // Like execve's answer for the first executable found: a bad format ends the search there.
    if (c.kind === 'file' && c.executable) return { name, searched, ...judge(full, c) };
    if (c.kind !== 'missing' && !denied) denied = { path: full, c };
  }
  if (denied) return { name, searched, error: judge(denied.path, denied.c).error };
  return {
    name,
    searched,
    error: {
      exitCode: EXIT.NOT_FOUND,
      code: 'ENOENT',
      message: `command "${name}" not found in PATH (${pathVar ?? `unset, so ${DEFAULT_PATH}`})`,
      hint: 'check the spelling of the command, install it in the image, or give its absolute path',
    },
  };
}

function judge(path: string, c: Candidate): Pick<ResolvedCommand, 'path' | 'error'> {
  switch (c.kind) {
    case 'file':
      if (c.executable && c.format === 'no-shebang') {
        return { error: { exitCode: EXIT.NOT_EXECUTABLE, code: 'ENOEXEC', message: `command "${path}" is not a valid executable: a script without a #! line, or a binary for another system`, hint: 'add a #! line such as #!/bin/sh to the script, or run it through its interpreter (e.g. sh script.sh)' } };
      }
      if (c.executable && c.format === 'missing-interpreter') {
        return { error: { exitCode: EXIT.NOT_FOUND, code: 'ENOENT', message: `command "${path}" names the interpreter ${c.interpreter} on its #! line, which does not exist`, hint: `install ${c.interpreter} in the image, or fix the #! line (e.g. #!/usr/bin/env python3)` } };
      }
      return c.executable
        ? { path }
        : { error: { exitCode: EXIT.NOT_EXECUTABLE, code: 'EACCES', message: `command "${path}" is not executable by the service user`, hint: `make it executable (chmod +x ${path}, or RUN chmod +x in the Dockerfile)` } };
    case 'directory':
      return { error: { exitCode: EXIT.NOT_EXECUTABLE, code: 'EACCES', message: `command "${path}" is a directory`, hint: 'give the program inside it, not the directory' } };
    case 'other':
      return { error: { exitCode: EXIT.NOT_EXECUTABLE, code: c.error_code ?? 'EACCES', message: `command "${path}" cannot be executed (${c.error_code ?? 'not a regular file'})`, hint: 'give the path of a regular executable file' } };
    case 'missing':
      return { error: { exitCode: EXIT.NOT_FOUND, code: c.error_code ?? 'ENOENT', message: `command "${path}" does not exist`, hint: 'check the path, or install the program in the image' } };
  }
}

/** Maps an execve failure to the wrapper's exit code and a sentence a person can act on. */
export function execFailure(path: string, code: string | undefined): { exitCode: number; message: string; hint: string } {
  switch (code) {
    case 'ENOENT':
      return { exitCode: EXIT.NOT_FOUND, message: `cannot exec "${path}": it or the interpreter named on its #! line does not exist`, hint: 'check the #! line of the script (e.g. #!/usr/bin/env python3) and that the interpreter is installed' };
    case 'ENOEXEC':
      return { exitCode: EXIT.NOT_EXECUTABLE, message: `cannot exec "${path}": not a valid executable (a script without a #! line, or a binary for another architecture)`, hint: 'add a #! line such as #!/bin/sh to the script, or run it through its interpreter (e.g. sh script.sh)' };
    case 'E2BIG':
      return { exitCode: EXIT.NOT_EXECUTABLE, message: `cannot exec "${path}": the arguments and environment are too large`, hint: 'pass large data through a file instead of arguments or environment variables' };
    default:
      return { exitCode: EXIT.NOT_EXECUTABLE, message: `cannot exec "${path}" (${code ?? 'unknown error'})`, hint: 'check that the file is an executable for this architecture and that the service user may run it' };
  }
}
