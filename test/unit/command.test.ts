import { describe, expect, it } from 'vitest';
import { resolveCommand, type Candidate } from '../../src/command.js';

const files: Record<string, Candidate> = {
  '/usr/bin/python3': { kind: 'file', executable: true, format: 'ok' },
  '/opt/bin/tool': { kind: 'file', executable: false },
  '/usr/bin/tool': { kind: 'file', executable: true, format: 'ok' },
  '/app/serve.sh': { kind: 'file', executable: true, format: 'no-shebang' },
  '/app/old.py': { kind: 'file', executable: true, format: 'missing-interpreter', interpreter: '/usr/bin/python2' },
  '/app': { kind: 'directory', executable: false },
};
const look = (p: string): Candidate => files[p] ?? { kind: 'missing', executable: false };

describe('resolveCommand (execvp semantics)', () => {
  it('finds a name through PATH, skipping entries that cannot be executed', () => {
    expect(resolveCommand('tool', '/opt/bin:/usr/bin', look)).toMatchObject({ path: '/usr/bin/tool', searched: ['/opt/bin/tool', '/usr/bin/tool'] });
  });
  it('is 126 when only a non-executable candidate exists, 127 when none does', () => {
    expect(resolveCommand('tool', '/opt/bin', look).error).toMatchObject({ exitCode: 126, code: 'EACCES' });
    expect(resolveCommand('nope', '/opt/bin:/usr/bin', look).error).toMatchObject({ exitCode: 127, code: 'ENOENT' });
  });
  it('uses /bin:/usr/bin when PATH is unset', () => {
    expect(resolveCommand('nope', undefined, look).searched).toEqual(['/bin/nope', '/usr/bin/nope']);
  });
  it('knows before exec that a script without #! fails (126) and a missing interpreter is 127', () => {
    expect(resolveCommand('/app/serve.sh', '/usr/bin', look).error).toMatchObject({ exitCode: 126, code: 'ENOEXEC' });
    const missing = resolveCommand('/app/old.py', '/usr/bin', look).error;
    expect(missing).toMatchObject({ exitCode: 127, code: 'ENOENT' });
    expect(missing?.message).toContain('/usr/bin/python2');
  });
  it('is 126 for a directory', () => {
    expect(resolveCommand('/app', '/usr/bin', look).error).toMatchObject({ exitCode: 126 });
  });
});
