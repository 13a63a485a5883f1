/** Where the CLI writes. Tests pass their own; the real one writes to stdout/stderr. */
import { readFileSync } from 'node:fs';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Standard output is a terminal (progress and colour allowed). */
  isTTY: boolean;
  version: string;
  /** Replace the current progress line (terminals only); '' clears it. */
  progress?(line: string): void;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function stdio(): Io {
  // A reader that stops early (`minos list | head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    isTTY: Boolean(process.stderr.isTTY),
    version: packageVersion(),
    progress: (line) => process.stderr.write(`\r\x1b[K${line}`),
  };
}

/** Collect a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
