// The whole test suite, as CI runs it: build the executable, run the vitest suites (unit tests and
// integration tests against the built binary), then the Docker end-to-end suite (it skips itself with
// a clear line where no Docker engine can run). Ends with one plain line: `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts });

let passed = 0;
let failed = 0;
let skipped = 0;

console.log('== build');
if (run('npm', ['run', '--silent', 'build']).status !== 0) {
  console.log('build failed');
  console.log(`0 passed, 1 failed`);
  process.exit(1);
}

console.log('== vitest (unit + integration)');
const out = mkdtempSync(join(tmpdir(), 'me-vitest-'));
const report = join(out, 'report.json');
const vitest = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  // A suite that failed to load has no failed test but must fail the run.
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed')).length;
} else {
  failed += 1;
}
if (vitest.status !== 0 && failed === 0) failed += 1;
rmSync(out, { recursive: true, force: true });

if (process.env.SKIP_E2E === '1') {
  console.log('== e2e: SKIPPED (SKIP_E2E=1)');
} else {
  console.log('== e2e (Docker engine)');
  const e2e = spawnSync('bash', ['docker/e2e/run.sh'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(e2e.stdout ?? '');
  const m = /^(\d+) passed, (\d+) failed/m.exec([...(e2e.stdout ?? '').split('\n')].reverse().join('\n'));
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (e2e.status !== 0 && (!m || Number(m[2]) === 0)) failed += 1;
}

console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
