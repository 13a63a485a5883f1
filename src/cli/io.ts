/** Where the CLI writes. Tests pass their own; the real one writes to stdout/stderr. */
import { readFileSync } from 'node:fs';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Standard error is a terminal: progress lines are allowed there. */
  isTTY: boolean;
  /** Width of that terminal, when known (progress lines are cut to it). */
  columns?: number;
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
    columns: process.stderr.isTTY ? process.stderr.columns : undefined,
    version: packageVersion(),
    progress: (line) => process.stderr.write(`\r\x1b[K${line}`),
  };
}

// C0 controls but newline, DEL, C1 controls, and the Unicode marks that reorder text (Trojan Source).
 
const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
 
const CONTROLS_NL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escapeOne = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `s` made safe for a terminal: control characters (also newlines unless
 * `keepNewlines`), C1 controls and bidirectional marks written as `\uXXXX`,
 * which inside a JSON string is the same character, so JSON output stays
 * valid and equal. Every line a command prints passes through it; a field of
 * package data shown in a one-line layout passes with newlines escaped too.
 */
export function escapeControls(s: string, keepNewlines = false): string {
  return s.replace(keepNewlines ? CONTROLS : CONTROLS_NL, escapeOne);
}

/** `io` with every line and progress text passed through escapeControls (newlines kept). */
export function escapedIo(io: Io): Io {
  return {
    ...io,
    out: (line) => io.out(escapeControls(line, true)),
    err: (line) => io.err(escapeControls(line, true)),
    progress: io.progress && ((line) => io.progress!(escapeControls(line))),
  };
}

/** Collect a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
