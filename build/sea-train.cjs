// Build step (see build.mjs), run by the pinned runtime: node sea-train.cjs MAIN_JS CACHE_OUT SCRATCH
// Compiles MAIN_JS (the wrapped bundle) as build/sea-loader.cjs does, runs the entrypoint's container
// start on the scratch directory with exec stubbed, then writes the V8 code cache, which now holds
// every function those paths compiled. Bundles without a `main` export (the bench's empty-script
// floor) get the cache of their top-level code.
const { Script } = require('node:vm');
const fs = require('node:fs');
const path = require('node:path');

const [file, cacheOut, scratch] = process.argv.slice(2);
const source = fs.readFileSync(file, 'utf8');
const script = new Script(source, { filename: 'model-entrypoint.js' });
// Opened before the last run drops root, which then could not create it.
const out = fs.openSync(cacheOut, 'w');

async function train({ main, initialEnvironment }) {
  process.execve = () => {}; // the run goes on to its end instead of replacing this process
  // A container's kind of environment: a PATH and a token, so that secret scrubbing runs too.
  const env = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', HF_TOKEN: 'hf_training_value_not_a_real_token' };
  // The container starts only: V8 deserialises the whole cache on every start, so functions that only
  // --print-plan or check run would slow the common start down (measured: training them too made a
  // start ~1-2 % slower and did not make them measurably faster). They compile theirs when run.
  const runs = [
    ['--root', scratch, '--', 'true'], // first start: creates the directories
    ['--root', scratch, '--', 'true'], // every later start: nothing to change
    // Last: started as root this switches users for good (new root: nothing to repair, no walk).
    ['--root', path.join(scratch, 'u'), '--user', '1000:1000', '--', 'true'],
  ];
  initialEnvironment?.(); // the entry reads the environment with it; its result is not used here
  for (const argv of runs) await main(argv, { ...env });
}

(async () => {
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
  if (typeof mod.exports.main === 'function') await train(mod.exports);
  const cache = script.createCachedData();
  if (new Script(source, { filename: 'model-entrypoint.js', cachedData: cache }).cachedDataRejected) throw new Error('V8 rejects the code cache it just made');
  fs.writeSync(out, cache);
  fs.closeSync(out);
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
