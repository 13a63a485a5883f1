/**
 * Opening files minos did not write (packages, keys, indexes, specs, recipes,
 * lockfiles, a root's own state files): only regular files are opened, and
 * every whole-file read has a cap. A FIFO would block open(2) forever, a
 * device can have effects when opened and /dev/zero never ends, so the type
 * is checked before the open; the open itself is non-blocking and the
 * descriptor is checked again, in case the path was swapped in between.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { ioError, MinosError, type ErrorCode } from './errors.js';

/** Caps on files read whole, chosen far above any real file of the kind. */
export const CAP = {
  key: 64 << 10,
  signature: 1024,
  spec: 16 << 20,
  lockfile: 256 << 20,
  index: 256 << 20,
  state: 1 << 30,
} as const;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** What kind of file `st` is, for a message: "a FIFO", "a folder"… */
export function kindOf(st: Stats): string {
  return st.isDirectory() ? 'a folder'
    : st.isFIFO() ? 'a FIFO'
    : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device'
    : st.isSymbolicLink() ? 'a symbolic link'
    : 'not a regular file';
}

function notRegular(file: string, st: Stats, code: ErrorCode): MinosError {
  return new MinosError(code, `${file}: is ${kindOf(st)}, not a regular file`, {
    hint: 'give the path of a regular file',
    data: { file, kind: kindOf(st) },
  });
}

export interface InputOptions {
  /** Code for a missing, unreadable or non-regular file (default MN0101). */
  code?: ErrorCode;
}

/**
 * Open `file` (symbolic links followed) for reading if it is a regular file;
 * refuse anything else without opening it. The caller closes the descriptor.
 */
export function openInput(file: string, opts: InputOptions = {}): { fd: number; size: number } {
  const code = opts.code ?? 'MN0101';
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw ioError(e, file, code);
  }
  if (!st.isFile()) throw notRegular(file, st, code);
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (e) {
    throw ioError(e, file, code);
  }
  let now: Stats;
  try {
    now = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw ioError(e, file, code);
  }
  if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
    closeSync(fd);
    throw now.isFile() ? new MinosError(code, `${file}: changed while being opened`, { data: { file } }) : notRegular(file, now, code);
  }
  return { fd, size: now.size };
}

/**
 * The bytes of regular file `file`, refused (code `tooLarge`, default MN0101)
 * when longer than `max` bytes: the check counts what is read, not what
 * stat says, so a file that grows while read is bounded too.
 */
export function readInput(file: string, max: number, opts: InputOptions & { tooLarge?: ErrorCode } = {}): Buffer {
  const { fd, size } = openInput(file, opts);
  try {
    if (size > max) throw tooLarge(file, max, opts.tooLarge ?? opts.code ?? 'MN0101');
    let buf = Buffer.allocUnsafe(Math.min(size, max) + 1);
    let have = 0;
    for (;;) {
      if (have === buf.length) {
        if (have > max) throw tooLarge(file, max, opts.tooLarge ?? opts.code ?? 'MN0101');
        const more = Buffer.allocUnsafe(Math.min(max + 1, Math.max(2 * have, 4096)));
        buf.copy(more, 0, 0, have);
        buf = more;
      }
      let n: number;
      try {
        n = readSync(fd, buf, have, buf.length - have, null);
      } catch (e) {
        throw ioError(e, file, opts.code ?? 'MN0101');
      }
      if (n === 0) break;
      have += n;
    }
    return buf.subarray(0, have);
  } finally {
    closeSync(fd);
  }
}

/** readInput as UTF-8 text (a byte order mark is kept, for the parser to refuse). */
export function readInputText(file: string, max: number, opts: InputOptions & { tooLarge?: ErrorCode } = {}): string {
  return readInput(file, max, opts).toString('utf8');
}

/**
 * readInputText, or undefined when `file` does not exist. Other failures
 * (not a regular file, unreadable, too large) still throw.
 */
export function readInputTextIfAny(file: string, max: number, opts: InputOptions & { tooLarge?: ErrorCode } = {}): string | undefined {
  try {
    return readInputText(file, max, opts);
  } catch (e) {
    if (e instanceof MinosError && e.data?.errno === 'ENOENT') return undefined;
    throw e;
  }
}

/** `file` is over the `max` bytes a reader of it accepts. */
export function tooLarge(file: string, max: number, code: ErrorCode = 'MN0101'): MinosError {
  return new MinosError(code, `${file}: larger than the ${max} bytes accepted`, { data: { file, max } });
}
