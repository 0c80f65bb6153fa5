// The start-up fast paths must give exactly what the Node built-ins they stand in for give.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import { join, normalize, resolve } from '../../src/paths.js';
import { parseArgsOptions, plainValues } from '../../src/options.js';

const segment = fc.oneof(fc.constantFrom('', '.', '..', 'a', 'models', 'hub', '.cache', '...', 'x y'), fc.string({ maxLength: 6 }).filter((s) => !s.includes('\0')));
const path = fc.tuple(fc.boolean(), fc.array(segment, { maxLength: 6 }), fc.boolean()).map(([abs, parts, slash]) => `${abs ? '/' : ''}${parts.join('/')}${slash ? '/' : ''}`);

describe('src/paths.ts equals node:path', () => {
  it('normalize, join, resolve', () => {
    fc.assert(
      fc.property(path, fc.array(segment, { maxLength: 3 }), (p, rest) => {
        expect(normalize(p)).toBe(posix.normalize(p));
        if (p !== '') expect(join(p, ...rest)).toBe(posix.join(p, ...rest));
        expect(resolve(p)).toBe(posix.resolve(p));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('plainValues equals parseArgs where it answers', () => {
  const names = Object.keys(parseArgsOptions);
  const arg = fc.oneof(
    fc.constantFrom(...names).map((n) => `--${n}`),
    fc.tuple(fc.constantFrom(...names), fc.string({ maxLength: 8 })).map(([n, v]) => `--${n}=${v}`),
    fc.string({ maxLength: 8 }),
  );
  it('same values, or no answer (then parseArgs decides)', () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
        const fast = plainValues(args);
        if (fast === undefined) return;
        const slow = parseArgs({ args, options: parseArgsOptions, strict: true, allowPositionals: false }).values;
        expect({ ...fast }).toEqual({ ...slow });
      }),
      { numRuns: 5000 },
    );
  });
});
