// The executable's main script (see build.mjs). It compiles the bundle, stored as the SEA asset
// main.js, with the V8 code cache build/sea-train.cjs recorded after running the start-up paths, so
// that nothing the start runs is compiled at run time. (The SEA's own useCodeCache is made before
// anything runs: it holds the top-level code only, and every function called at start was compiled
// anew on each start.) A cache V8 rejects only costs that compile time, nothing else.
const { getAsset, getRawAsset } = require('node:sea');
const { Script } = require('node:vm');

const script = new Script(getAsset('main.js', 'utf8'), { filename: 'model-entrypoint.js', cachedData: Buffer.from(getRawAsset('main.cache')) });
script.runInThisContext().call(module.exports, module.exports, require, module, __filename, __dirname);
