/** Exit codes of the wrapper itself (after exec, the service's own codes apply). */
export const EXIT = {
  OK: 0,
  UNHEALTHY: 1,
  WRAPPER: 125,
  NOT_EXECUTABLE: 126,
  NOT_FOUND: 127,
} as const;

/**
 * An error the wrapper reports and exits on: one `level: error` line with `event`, a message naming
 * the bad input, and `hint` saying what to do. Never carries a stack to the user.
 */
export class EntrypointError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly hint: string,
    readonly event = 'entrypoint.failed',
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A usage/config error: exit 125. */
export function usageError(message: string, hint: string, fields: Record<string, unknown> = {}): EntrypointError {
  return new EntrypointError(EXIT.WRAPPER, message, hint, 'entrypoint.usage_error', fields);
}

const ERRNO_MEANINGS: Record<string, string> = {
  EACCES: 'permission denied: the user lacks write or search permission on this path',
  EPERM: 'operation not permitted: the kernel refused it (not owner, or root squashed by NFS, or a missing capability)',
  EROFS: 'the filesystem is mounted read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota of this user is exhausted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'a file already exists at this path',
  ELOOP: 'too many symbolic links (a symlink loop)',
  ENAMETOOLONG: 'the path or one of its components is too long',
  EISDIR: 'the path is a directory',
  ENOEXEC: 'the file is not a valid executable (a script without a #! line, or a binary for another architecture)',
  ETXTBSY: 'the file is being written by another process',
  EIO: 'an input/output error from the device',
  EMFILE: 'this process has too many open files',
  ENFILE: 'the system has too many open files',
  EBUSY: 'the resource is busy',
  EINVAL: 'an invalid argument was given to the kernel',
  E2BIG: 'the argument list and environment are too large for exec',
  ESTALE: 'stale network file handle (the NFS export changed)',
};

/** One sentence saying what an errno means to a person reading `docker logs`. */
export function errnoMeaning(code: string | undefined): string {
  if (!code) return 'an unexpected error';
  return ERRNO_MEANINGS[code] ?? `system error ${code}`;
}

/** The errno code of a thrown Node error, if any. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
