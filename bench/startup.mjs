#!/usr/bin/env node
// npm run bench: the start-up of model-entrypoint next to the floor of its runtime and next to the
// entrypoints people use today (issue 6). Everything timed is interleaved in one run: hyperfine is called
// round after round with every command (rotated order), so that noise from other work on the machine falls
// on all of them alike; ratios are of medians over all rounds. Also: peak RSS before exec, the size of the
// executable, and how the start grows with the number of directories and the size of the environment.
//
//   node bench/startup.mjs [--rounds N] [--runs K] [--quick] [--no-build] [--binary PATH]
//   (--binary: measure another build of model-entrypoint, e.g. an older one, instead of dist/)
//
// Needs hyperfine, tini, dumb-init, gosu (installed by build/ensure-tools.sh test) and GNU time; as root
// for `gosu nobody`. About 2 minutes. Raw hyperfine JSON and a summary go to bench/results/ (not committed).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildExecutable, runtimePath } from '../build/build.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { rounds: { type: 'string' }, runs: { type: 'string' }, quick: { type: 'boolean' }, 'no-build': { type: 'boolean' }, binary: { type: 'string' } },
});
const ROUNDS = Number(opts.rounds ?? (opts.quick ? 4 : 15));
const RUNS = Number(opts.runs ?? 10); // per command and round
const SCALING_ROUNDS = Math.max(2, Math.round(ROUNDS * 0.6));
const RSS_RUNS = opts.quick ? 3 : 9;
const TARGETS = { overhead: 1.25, rssMB: 50, sizeMB: 120 };

const say = (s = '') => process.stdout.write(`${s}\n`);
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
/** stdout and stderr of a short command (dumb-init prints its version on stderr). */
const both = (cmd, args) => { const r = spawnSync(cmd, args, { encoding: 'utf8' }); return `${r.stdout}${r.stderr}`.trim(); };
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// ---------------------------------------------------------------------------------------------- tools
if (existsSync(join(repo, 'build', 'ensure-tools.sh'))) execFileSync('bash', [join(repo, 'build', 'ensure-tools.sh'), 'test'], { stdio: 'inherit' });
for (const tool of ['hyperfine', 'tini', 'dumb-init', 'gosu']) if (!has(tool)) throw new Error(`${tool} is missing: run build/ensure-tools.sh test (or apt-get install ${tool})`);
const GNU_TIME = '/usr/bin/time';
const haveTime = existsSync(GNU_TIME);
const isRoot = process.getuid() === 0;

// ------------------------------------------------------------------------------------------- binaries
const binary = opts.binary ? resolve(opts.binary) : join(repo, 'dist', 'model-entrypoint');
const newest = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((t, e) => Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
const stale = !existsSync(binary) || Math.max(newest(join(repo, 'src')), newest(join(repo, 'build')), statSync(join(repo, 'package-lock.json')).mtimeMs) > statSync(binary).mtimeMs;
if (stale && !opts['no-build'] && !opts.binary) {
  say('building dist/model-entrypoint (sources are newer than it) ...');
  await buildExecutable({ quiet: true });
}
const work = mkdtempSync(join(tmpdir(), 'model-entrypoint-bench-'));
const cleanup = () => (process.env.BENCH_KEEP ? say(`kept ${work}`) : rmSync(work, { recursive: true, force: true }));
process.on('exit', cleanup);
say('building the floor: an empty script, packaged by the same buildExecutable ...');
const floorBuilt = await buildExecutable({ entry: join(repo, 'bench', 'startup-empty.js'), output: join(work, 'built', 'floor'), quiet: true });

/**
 * Every executable under test is copied here in 64 KiB writes, as a container runtime writes it when it
 * unpacks an image layer. How a file was written decides how the page cache holds it (one big write makes
 * large folios, mapped whole on a fault): without this the freshly built binaries would get up to 35 MB
 * more resident file pages and fewer page faults than the npm-installed runtime they are compared with.
 */
function install(from, name) {
  const to = join(work, name);
  const src = openSync(from, 'r');
  const dst = openSync(to, 'w', 0o755);
  const buf = Buffer.alloc(64 * 1024);
  for (let n; (n = readSync(src, buf, 0, buf.length, null)) > 0; ) writeSync(dst, buf, 0, n);
  closeSync(src);
  closeSync(dst);
  chmodSync(to, 0o755);
  return to;
}
const ME = install(binary, 'model-entrypoint');
const NODE = install(runtimePath(), 'node');
const FLOOR = install(floorBuilt, 'floor');
rmSync(join(work, 'built'), { recursive: true, force: true });
const ENTRY_SH = join(repo, 'bench', 'startup-entrypoint.sh');

// ---------------------------------------------------------------------------------------- environment
/** A container's environment: what Docker and a model image set, one secret among them. */
function containerEnv(total) {
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: 'bark-7f9c2d', HOME: '/root', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TERM: 'xterm',
    PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', PIP_NO_CACHE_DIR: '1', DEBIAN_FRONTEND: 'noninteractive',
    NVIDIA_VISIBLE_DEVICES: 'all', NVIDIA_DRIVER_CAPABILITIES: 'compute,utility', CUDA_VERSION: '12.4.1',
    MODEL_NAME: 'suno/bark', MODEL_REVISION: 'main', PORT: '8080', WORKERS: '1', LOG_LEVEL: 'info',
    HF_TOKEN: 'hf_benchmarkbenchmarkbenchmark0000',
  };
  // Filler up to `total` variables; every hundredth looks like a secret, so scrubbing has work to do.
  for (let i = Object.keys(env).length; i < total; i++) env[`APP_SETTING_${String(i).padStart(5, '0')}${i % 100 === 0 ? '_TOKEN' : ''}`] = `value-${i}-${'x'.repeat(i % 17)}`;
  return env;
}
const BASE_ENV = containerEnv(20);

// --------------------------------------------------------------------------------- prepared directories
/** Runs the binary once to prepare `args`' directories, then proves that a second start changes nothing. */
function prepare(args, env = BASE_ENV) {
  const run = () => spawnSync(ME, [...args, '--', '/bin/true'], { env, encoding: 'utf8' });
  const first = run();
  if (first.status !== 0) throw new Error(`preparing failed (exit ${first.status}): ${first.stderr}`);
  const second = run();
  if (second.status !== 0 || /"dir\.created"|"repair\.start"|"dir\.unwritable"/.test(second.stderr)) throw new Error(`the prepared set still changes or warns on a second start:\n${second.stderr}`);
}
const ROOT = join(work, 'root');
prepare(['--root', ROOT]);
const dirArgs = (n) => Array.from({ length: n }, (_, i) => ['--dir', join(work, 'extra', `d${String(i).padStart(3, '0')}`)]).flat();
for (const n of [1, 10, 100]) prepare(['--root', ROOT, ...dirArgs(n)]);
const check = spawnSync(ME, ['check', '--root', ROOT], { env: BASE_ENV, encoding: 'utf8' });
if (check.status !== 0) throw new Error(`check is not healthy on the prepared set: ${check.stdout}${check.stderr}`);

// ------------------------------------------------------------------------------------------- timing
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(repo, 'bench', 'results', `startup-${stamp}`);
mkdirSync(resultsDir, { recursive: true });

/**
 * hyperfine over `cases` ({ name, argv }) in `rounds` rounds of `runs` timed runs each (+ 2 warm-up),
 * the order rotated every round. Returns per case: all times (ms), mean CPU (user+sys, ms), the median
 * of each round. Shell-free (-N): argv is passed as one string, so no argument may contain spaces.
 */
function interleaved(label, cases, { rounds = ROUNDS, runs = RUNS, env = BASE_ENV } = {}) {
  const acc = cases.map(() => ({ times: [], cpu: [], roundMedians: [] }));
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, i) => (i + r) % cases.length);
    const json = join(resultsDir, `${label}-round${String(r + 1).padStart(2, '0')}.json`);
    const argv = ['-N', '--style', 'none', '--warmup', '2', '--runs', String(runs), '--export-json', json];
    for (const i of order) argv.push(cases[i].argv.join(' '));
    const res = spawnSync('hyperfine', argv, { env, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (res.status !== 0) throw new Error(`hyperfine failed (${label}, round ${r + 1}): ${res.stderr || res.stdout}`);
    JSON.parse(readFileSync(json, 'utf8')).results.forEach((x, j) => {
      const a = acc[order[j]];
      a.times.push(...x.times.map((t) => t * 1e3));
      a.cpu.push((x.user + x.system) * 1e3);
      a.roundMedians.push(x.median * 1e3);
    });
    process.stdout.write(`\r${label}: round ${r + 1}/${rounds}`);
  }
  process.stdout.write('\n');
  return cases.map((c, i) => ({ ...c, ...acc[i], median: q(acc[i].times, 0.5), p10: q(acc[i].times, 0.1), p90: q(acc[i].times, 0.9), mean: mean(acc[i].times), sd: sd(acc[i].times), cpuMean: mean(acc[i].cpu) }));
}

/** Peak RSS (GNU time %M, KB) of `argv` over `runs` runs: the maximum over the process's life, which
 * across an exec is the larger of the wrapper's and /bin/true's (about 1 MB), so the wrapper's peak. */
function peakRss(argv, env = BASE_ENV) {
  if (!haveTime) return undefined;
  const out = join(work, 'rss.txt');
  const kb = [];
  for (let i = 0; i < RSS_RUNS; i++) {
    const res = spawnSync(GNU_TIME, ['-f', '%M', '-o', out, ...argv], { env, stdio: 'ignore' });
    if (res.status !== 0) throw new Error(`${argv.join(' ')} failed under ${GNU_TIME}`);
    kb.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()));
  }
  return q(kb, 0.5) / 1024;
}

const load0 = loadavg();
const t0 = performance.now();
const ENTRY = { name: 'model-entrypoint -- /bin/true', argv: [ME, '--root', ROOT, '--', '/bin/true'] };
const RUNTIME = { name: 'node26 -e 0 (the runtime)', argv: [NODE, '-e', '0'] };
const cases = [
  ENTRY,
  RUNTIME,
  { name: 'empty-script SEA (packaging floor)', argv: [FLOOR] },
  { name: 'tini -s -- /bin/true', argv: ['tini', '-s', '--', '/bin/true'] },
  { name: 'dumb-init /bin/true', argv: ['dumb-init', '/bin/true'] },
  ...(isRoot ? [{ name: 'gosu nobody /bin/true', argv: ['gosu', 'nobody', '/bin/true'] }] : []),
  { name: 'POSIX-sh entrypoint (mkdir/test -w/export/exec)', argv: ['/bin/sh', ENTRY_SH, ROOT, '/bin/true'] },
  { name: 'model-entrypoint --print-plan', argv: [ME, '--print-plan', '--root', ROOT, '--', '/bin/true'] },
  { name: 'model-entrypoint check', argv: [ME, 'check', '--root', ROOT] },
];
say(`timing ${cases.length} commands: ${ROUNDS} rounds x (${RUNS} runs + 2 warm-up), interleaved`);
const main = interleaved('main', cases);

say('scaling: prepared directories and environment size');
const dirCases = [RUNTIME, ...[1, 10, 100].map((n) => ({ name: `${n} --dir`, dirs: n, argv: [ME, '--root', ROOT, ...dirArgs(n), '--', '/bin/true'] }))];
const dirs = interleaved('dirs', dirCases, { rounds: SCALING_ROUNDS });
const envSizes = {};
for (const n of [100, 10000]) {
  const env = containerEnv(n);
  prepare(['--root', ROOT], env);
  envSizes[n] = { result: interleaved(`env${n}`, [RUNTIME, ENTRY], { rounds: SCALING_ROUNDS, env }), rssMB: peakRss(ENTRY.argv, env) };
}

say('peak RSS (GNU time, median of runs) ...');
const rss = Object.fromEntries(cases.map((c) => [c.name, peakRss(c.argv)]));
for (const c of dirs.slice(1)) c.rssMB = peakRss(c.argv);
const seconds = (performance.now() - t0) / 1e3;
const load1 = loadavg();

// ---------------------------------------------------------------------------------------------- report
const f = (x, d = 1) => (x === undefined ? 'n/a' : x.toFixed(d));
const row = (cells) => `| ${cells.join(' | ')} |`;
const [entry, runtime] = main;
const ratio = entry.median / runtime.median;
const roundRatios = entry.roundMedians.map((m, i) => m / runtime.roundMedians[i]);
const sizeMB = statSync(binary).size / 1e6;
const rssEntry = rss[ENTRY.name];
const version = (cmd, args, re = /.*/) => (both(cmd, args).match(re) ?? ['?'])[0];

const report = [];
const out = (s = '') => report.push(s);
out(`Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${cpus().length} CPUs (nproc ${sh('nproc', [])}), ${cpus()[0]?.model ?? '?'}, Linux ${sh('uname', ['-r'])}; load average ${load0[0].toFixed(2)} at the start, ${load1[0].toFixed(2)} at the end.`);
out(`Versions: model-entrypoint ${version(ME, ['--version'], /\S+(?= \(node)/)} on Node ${version(NODE, ['--version'])}, hyperfine ${version('hyperfine', ['--version'], /[\d.]+/)}, tini ${version('tini', ['--version'], /[\d.]+/)}, dumb-init ${version('dumb-init', ['--version'], /[\d.]+/)}, gosu ${version('gosu', ['--version'], /^[\d.]+/)}, /bin/sh = ${sh('readlink', ['-f', '/bin/sh']).split('/').pop()}.`);
out(`Runs: ${ROUNDS} interleaved rounds x ${RUNS} timed runs (+2 warm-up) per command = ${entry.times.length} runs each; environment of ${Object.keys(BASE_ENV).length} variables; the prepared set has 3 directories (hf preset); ${seconds.toFixed(0)} s in all.`);
out();
out(row(['command', 'median ms', 'mean ± sd ms', 'p10 – p90 ms', 'CPU ms (user+sys)', 'peak RSS MB', '× node26 -e 0']));
out(row(['---', '---:', '---:', '---:', '---:', '---:', '---:']));
for (const c of main) out(row([c === entry ? `**${c.name}**` : c.name, f(c.median), `${f(c.mean)} ± ${f(c.sd)}`, `${f(c.p10)} – ${f(c.p90)}`, f(c.cpuMean), f(rss[c.name]), `${f(c.median / runtime.median, 2)}×`]));
out();
out('model-entrypoint -- /bin/true next to each (ratio of medians; difference of medians):');
out();
out(row(['compared with', 'ratio', 'difference ms']));
out(row(['---', '---:', '---:']));
for (const c of main.slice(1)) out(row([c.name, `${f(entry.median / c.median, 2)}×`, `${entry.median >= c.median ? '+' : ''}${f(entry.median - c.median)}`]));
out();
out('Targets:');
out();
out(`- start→exec ≤ ${TARGETS.overhead}× \`node26 -e 0\`: **${f(ratio, 2)}×** (${ratio <= TARGETS.overhead ? 'met' : `missed by ${f((ratio / TARGETS.overhead - 1) * 100)} %`}); the same ratio within each round (both measured seconds apart): median ${f(q(roundRatios, 0.5), 2)}×, range ${f(Math.min(...roundRatios), 2)}–${f(Math.max(...roundRatios), 2)}×; CPU ${f(entry.cpuMean / runtime.cpuMean, 2)}×. Next to the packaging floor: ${f(entry.median / main[2].median, 2)}×.`);
out(`- peak RSS before exec ≤ ${TARGETS.rssMB} MB: **${f(rssEntry)} MB** (${rssEntry === undefined ? 'not measured: GNU time is missing' : rssEntry <= TARGETS.rssMB ? 'met' : `missed by ${f(rssEntry - TARGETS.rssMB)} MB`}); the runtime alone: ${f(rss[RUNTIME.name])} MB.`);
out(`- executable ≤ ${TARGETS.sizeMB} MB: **${f(sizeMB)} MB** (${sizeMB <= TARGETS.sizeMB ? 'met' : `missed by ${f(sizeMB - TARGETS.sizeMB)} MB`}); the runtime it is made from: ${f(statSync(runtimePath()).size / 1e6)} MB before strip.`);
out();
out('Scaling (interleaved with node26 -e 0 in each set; 3 preset directories + N `--dir`):');
out();
out(row(['case', 'median ms', 'p10 – p90 ms', '× node26 -e 0', 'peak RSS MB']));
out(row(['---', '---:', '---:', '---:', '---:']));
for (const c of dirs.slice(1)) out(row([`${c.dirs + 3} directories (${c.name})`, f(c.median), `${f(c.p10)} – ${f(c.p90)}`, `${f(c.median / dirs[0].median, 2)}×`, f(c.rssMB)]));
for (const [n, { result: [node, me], rssMB }] of Object.entries(envSizes)) out(row([`environment of ${Number(n).toLocaleString('en')} variables`, f(me.median), `${f(me.p10)} – ${f(me.p90)}`, `${f(me.median / node.median, 2)}× (node: ${f(node.median)} ms)`, f(rssMB)]));

say();
for (const line of report) say(line);
const summary = { date: new Date().toISOString(), rounds: ROUNDS, runs: RUNS, loadavg: { start: load0, end: load1 }, main, dirs, envSizes, rss, sizeMB, ratio, roundRatios, report: report.join('\n') };
writeFileSync(join(resultsDir, 'summary.json'), JSON.stringify(summary, null, 2));
say();
say(`raw hyperfine JSON and summary.json: ${resultsDir}`);
