// Builds the benchmark tree for the ownership-repair benchmark: a model-cache-like layout of about
// `entries` entries (directories, regular files, symlinks), created synchronously (fast enough: ~2 s
// for 100k on ext4) and owned by root.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Shape: 20 top directories x N subdirectories, each holding files and relative symlinks in the
 * proportion 9 files : 1 symlink (like a Hugging Face cache: blobs plus snapshot links).
 * Returns the counts actually created (the top directory itself not included).
 */
export function buildTree(root, { entries = 100_000, perDir = 100, topDirs = 20 } = {}) {
  mkdirSync(root, { recursive: true });
  const leafDirs = Math.max(1, Math.ceil((entries - topDirs) / (perDir + 1)));
  const perTop = Math.ceil(leafDirs / topDirs);
  const counts = { dirs: 0, files: 0, symlinks: 0 };
  let made = 0;
  for (let t = 0; t < topDirs && made < entries; t++) {
    const top = join(root, `models--org--m${t}`);
    mkdirSync(top);
    counts.dirs++;
    made++;
    for (let s = 0; s < perTop && made < entries; s++) {
      const dir = join(top, `d${s}`);
      mkdirSync(dir);
      counts.dirs++;
      made++;
      for (let f = 0; f < perDir && made < entries; f++) {
        if (f % 10 === 9) {
          symlinkSync(`f${f - 1}.bin`, join(dir, `l${f}`));
          counts.symlinks++;
        } else {
          writeFileSync(join(dir, `f${f}.bin`), '');
          counts.files++;
        }
        made++;
      }
    }
  }
  return { ...counts, total: made };
}
