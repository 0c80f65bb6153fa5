// Run a command with your own /etc/passwd and /etc/group, without touching the machine's: the files
// are bind-mounted over the real ones inside a private mount namespace (`unshare --mount`), so the
// mounts exist only for that command and vanish when it exits. Needs root (CAP_SYS_ADMIN).
//
//   const r = runWithUserDb({ passwd: 'alice:x:1000:1000::/home/alice:/bin/sh\n', group: '' }, ['id', 'alice']);
//   r.status === 0 && r.stdout === 'uid=1000(alice) ...'
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Contents of the passwd and group files the command will see. */
export interface UserDbFiles {
  passwd: string;
  group: string;
}

export interface NamespaceRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

export interface NamespaceRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const SETUP_FAILED = 'namespace-helper: bind mount failed';

// $1 and $2 are the files, the rest is the command; `exec` keeps its exit status and signals intact.
const SETUP_SCRIPT = `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group || { echo "${SETUP_FAILED}" >&2; exit 111; }
shift 2
exec "$@"`;

/**
 * Runs argv (argv[0] looked up in PATH) with `db` as /etc/passwd and /etc/group. Throws if the
 * namespace cannot be set up, so a setup failure never passes for the command's own result.
 */
export function runWithUserDb(db: UserDbFiles, argv: readonly string[], options: NamespaceRunOptions = {}): NamespaceRun {
  if (argv.length === 0) throw new Error('runWithUserDb: empty command');
  const dir = mkdtempSync(join(tmpdir(), 'userdb-'));
  try {
    const passwd = join(dir, 'passwd');
    const group = join(dir, 'group');
    writeFileSync(passwd, db.passwd, { mode: 0o644 });
    writeFileSync(group, db.group, { mode: 0o644 });
    const result = spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', SETUP_SCRIPT, 'userdb-ns', passwd, group, ...argv],
      { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd, input: options.input, timeout: options.timeoutMs ?? 30_000 },
    );
    if (result.error) throw result.error;
    if (result.status === 111 && result.stderr.includes(SETUP_FAILED)) {
      throw new Error(`runWithUserDb: could not bind-mount the user database:\n${result.stderr}`);
    }
    return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why runWithUserDb cannot work here (not root, no unshare, no permission), or undefined when it can. */
export function userDbNamespaceUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create a mount namespace';
  try {
    const probe = runWithUserDb({ passwd: 'probe:x:4321:4321::/probe:/bin/sh\n', group: '' }, ['cat', '/etc/passwd']);
    return probe.stdout.includes('probe:x:4321') ? undefined : `unexpected /etc/passwd in the namespace: ${probe.stderr}`;
  } catch (err) {
    return (err as Error).message;
  }
}
