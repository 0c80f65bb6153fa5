// --help and --version text, generated from the option table so it cannot drift from the parser.
import { OPTION_SPECS } from './options.js';

declare const __VERSION__: string;
export const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';

export function versionText(): string {
  return `model-entrypoint ${VERSION} (node ${process.version})\n`;
}

export function helpText(): string {
  const rows = OPTION_SPECS.map((s) => {
    const flag = `--${s.flag}${s.arg ? ` ${s.arg}` : ''}`;
    const env = s.key === 'user' ? 'PUID + PGID' : s.env ?? '';
    return `  ${flag.padEnd(26)} ${s.help}${env ? `\n  ${''.padEnd(26)} env: ${env}` : ''}`;
  });
  return `model-entrypoint: prepare model and cache directories, fix the environment, drop privileges, exec the service.

Usage:
  model-entrypoint [OPTIONS] [--] COMMAND [ARG...]              prepare, then exec COMMAND
  model-entrypoint --print-plan [OPTIONS] [--] [COMMAND [ARG...]]  show the plan, change nothing
  model-entrypoint check [OPTIONS]                              probe every directory as the service user; exit 0 healthy, 1 unhealthy
  model-entrypoint fix-permissions [OPTIONS] DIR...             host step: create DIRs and repair ownership to --user (default 1000:1000)

Options stop at \`--\` or at the first argument that is not an option: everything after belongs to COMMAND.
A command literally named "check" or "fix-permissions" must follow \`--\`.

Options (precedence: flag > environment > config file > default):
${rows.join('\n')}
  --print-plan               show what would be done (with the source of every setting) and exit
  --help, -h                 this text
  --version                  version of model-entrypoint and of its Node runtime

Exit codes: the service's own after exec; 125 wrapper failure (usage, config, strict, refusal,
privilege drop); 126 command not executable; 127 command not found; 128+n stopped by signal n before exec;
check and fix-permissions: 0 all good, 1 something is wrong.
`;
}
