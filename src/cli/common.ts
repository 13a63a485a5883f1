/** Helpers shared by CLI commands: keyrings from options, environment, formatting. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MinosError } from '../errors.js';
import { loadKeyring, type Keyring } from '../repo/keys.js';
import type { FileEntry } from '../types.js';
import { escapeControls } from './io.js';

export interface TrustOptions {
  key: string[];
  keyring: string[];
}

/** The keyring from repeatable --key FILE and --keyring DIR options; at least one required. */
export function trustFrom(opts: TrustOptions): Keyring {
  const paths = [...opts.key, ...opts.keyring];
  if (paths.length === 0) throw new MinosError('MN0002', 'no trusted keys: give --key PUB or --keyring DIR');
  return loadKeyring(paths);
}

/** The root the live commands act on: the global --root, absolute (default /). */
export function rootOf(cmd: Command): string {
  return resolve((cmd.optsWithGlobals() as { root?: string }).root ?? '/');
}

/** SOURCE_DATE_EPOCH from the environment, validated; undefined when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^[0-9]{1,12}$/.test(v)) throw new MinosError('MN0002', `SOURCE_DATE_EPOCH="${v}" is not a number of seconds`);
  return Number(v);
}

const TYPE_CHAR: Record<FileEntry['type'], string> = { file: '-', dir: 'd', symlink: 'l', hardlink: 'h', char: 'c', block: 'b', fifo: 'p' };

/** `ls -l`-style permission string, e.g. -rwsr-xr-x. */
export function modeString(type: FileEntry['type'], mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return TYPE_CHAR[type] + rwx(mode >> 6, (mode & 0o4000) !== 0, 's') + rwx(mode >> 3, (mode & 0o2000) !== 0, 's') + rwx(mode, (mode & 0o1000) !== 0, 't');
}

export function formatEntry(e: FileEntry): string {
  const size = e.type === 'char' || e.type === 'block' ? `${e.devmajor},${e.devminor}` : String(e.size);
  const link = e.type === 'symlink' ? ` -> ${escapeControls(e.target ?? '')}` : e.type === 'hardlink' ? ` link to ${escapeControls(e.target ?? '')}` : '';
  return `${modeString(e.type, e.mode)} ${`${e.owner}/${e.group}`.padEnd(17)} ${size.padStart(10)} ${escapeControls(e.path)}${link}`;
}

/** A `key:   value` line of package data, the value on one line whatever it holds. */
export function fieldLine(k: string, v: string): string {
  return `${`${k}:`.padEnd(14)}${escapeControls(v)}`;
}

/** Human-readable size: 532 B, 14.2 KiB, 3.1 MiB, 1.20 GiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}

/** A --level option: zstd level 1 to 19. */
export function zstdLevel(s: string): number {
  if (!/^[0-9]{1,2}$/.test(s) || Number(s) < 1 || Number(s) > 19) throw new MinosError('MN0002', `--level ${s}: expected 1 to 19`);
  return Number(s);
}
