// Stand-in for `model-entrypoint fix-permissions` while the binary does not exist: bundled by
// bench/repair.mjs with esbuild and run by Node 26. Prints one JSON result line per directory.
//   repair-runner --user UID:GID [--repair always|on-root-mismatch] [--concurrency N] [--abort-after-ms N] DIR...
import { lstatSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { repairTree } from '../src/repair/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    user: { type: 'string' },
    repair: { type: 'string', default: 'always' },
    concurrency: { type: 'string' },
    'abort-after-ms': { type: 'string' },
  },
});
const [uid, gid] = (values.user ?? '').split(':').map(Number);
if (!Number.isInteger(uid) || !Number.isInteger(gid) || positionals.length === 0) {
  process.stderr.write('usage: repair-runner --user UID:GID [--repair always|on-root-mismatch] DIR...\n');
  process.exit(125);
}

const controller = new AbortController();
if (values['abort-after-ms'] !== undefined) setTimeout(() => controller.abort(), Number(values['abort-after-ms']));
process.once('SIGTERM', () => controller.abort());

async function main(): Promise<void> {
  let failed = false;
  for (const dir of positionals) {
    const top = lstatSync(dir);
    if (values.repair === 'on-root-mismatch' && top.uid === uid && top.gid === gid) {
      process.stdout.write(`${JSON.stringify({ path: dir, walked: false })}\n`);
      continue;
    }
    const result = await repairTree(dir, {
      uid: uid as number,
      gid: gid as number,
      signal: controller.signal,
      concurrency: values.concurrency === undefined ? undefined : Number(values.concurrency),
    });
    failed ||= result.errors > 0 || result.interrupted;
    process.stdout.write(`${JSON.stringify({ ...result, walked: true })}\n`);
  }
  process.exit(failed ? 1 : 0);
}

void main();
