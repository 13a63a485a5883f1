/**
 * The unprivileged readers: as root, packages are decompressed, parsed and
 * checked by child processes running as an unprivileged user (privsepUser),
 * one per thread that reads packages, started once and reused for every
 * package. Each child gets two FIFOs (descriptors 3 and 4) and nothing else:
 * no environment, `/` as its folder, no supplementary groups, no package
 * file (the parent reads the file and hands over the bytes the child asks
 * for: see read.ts).
 *
 * A ReaderSet is plain data (a SharedArrayBuffer of slots), so a pool hands it
 * to its worker threads inside each job: a thread claims a free slot for one
 * package and releases it afterwards. The thread that made the set closes it
 * (closeReaders), after the threads that used it stopped; a slot whose child
 * broke the protocol is killed at once and started again by the next claim.
 *
 * Why FIFOs: the readers and writers of packages are synchronous, and Node
 * gives child processes non-blocking sockets only; a FIFO opened by path gives
 * blocking descriptors. They are made in a fresh 0700 folder and unlinked as
 * soon as both ends are open, so the child never sees a path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MinosError } from '../errors.js';
import { privsepUser, type PrivsepUser } from '../privuser.js';

export { DEDICATED_USER, privsepUser, type PrivsepUser } from '../privuser.js';

/** Slot states. */
const DEAD = 0; // no child (never started, or killed)
const FRESH = 1; // started, its hello not yet read
const READY = 2;
const BUSY = 3;
/** Int32 fields per slot: state, the parent's write end, its read end, the child's pid. */
const FIELDS = 4;

export interface ReaderSet {
  user: PrivsepUser;
  /** The child's entry script. */
  script: string;
  slots: Int32Array;
}

/** A claimed slot: write `job` and `data` frames to `input`, read the child's frames from `output`. */
export interface Channel {
  input: number;
  output: number;
  pid: number;
  /** The child's hello is still to be read (the first job after a start): the reader clears it once read. */
  fresh: boolean;
  slot: number;
}

/** Children this thread started, by pid (their handles live here; other threads know only pids). */
const children = new Map<number, ChildProcess>();
/** Started and idle children of closed sets, kept for the next set of the same user and script. */
const spare: { user: PrivsepUser; script: string; input: number; output: number; pid: number; fresh: boolean }[] = [];

/** The built child script beside this module, if there is one (running from TypeScript sources there is not). */
export function defaultScript(): string | undefined {
  const f = fileURLToPath(new URL('./child.js', import.meta.url));
  return existsSync(f) ? f : undefined;
}

/**
 * `n` readers for the threads of a pool: idle ones of closed sets are taken
 * now, and `eager` of them (default all) are started on the next turn of the
 * event loop (after a pool the caller closes at once has given back its
 * readers), so they load while the caller works on; the others are started
 * when first claimed. Undefined when packages are read in-process (see
 * privsepUser, or no built child script).
 */
export function startReaders(n: number, opts: { env?: NodeJS.ProcessEnv; script?: string; eager?: number } = {}): ReaderSet | undefined {
  const user = privsepUser(opts.env);
  const script = opts.script ?? defaultScript();
  if (!user || !script) return undefined;
  const set: ReaderSet = { user, script, slots: new Int32Array(new SharedArrayBuffer(4 * FIELDS * Math.max(1, n))) };
  const count = set.slots.length / FIELDS;
  for (let i = 0; i < count; i++) {
    const k = spare.findIndex((s) => s.user.uid === user.uid && s.user.gid === user.gid && s.script === script);
    if (k < 0) break;
    const s = spare.splice(k, 1)[0];
    setSlot(set, i, s.input, s.output, s.pid, s.fresh ? FRESH : READY);
  }
  const eager = Math.min(count, opts.eager ?? n);
  if (eager > 0) {
    setImmediate(() => {
      for (let i = 0; i < eager; i++) {
        if (closed.has(set.slots) || Atomics.compareExchange(set.slots, i * FIELDS, DEAD, BUSY) !== DEAD) continue;
        try {
          Atomics.store(set.slots, i * FIELDS, fill(set, i) ? FRESH : READY);
        } catch {
          // The claim that needs it starts it again, and reports why it cannot.
          Atomics.store(set.slots, i * FIELDS, DEAD);
        }
      }
    });
  }
  return set;
}

/** Sets closed by closeReaders (a pending eager start then starts nothing). */
const closed = new WeakSet<Int32Array>();

/** Give slot `i` (held BUSY by the caller) a spare reader of this thread, else a new one: is its hello still to be read? */
function fill(set: ReaderSet, i: number): boolean {
  const k = spare.findIndex((s) => s.user.uid === set.user.uid && s.user.gid === set.user.gid && s.script === set.script);
  if (k >= 0) {
    const s = spare.splice(k, 1)[0];
    setSlot(set, i, s.input, s.output, s.pid, BUSY);
    return s.fresh;
  }
  startChild(set, i);
  if (Atomics.load(set.slots, i * FIELDS) === DEAD) throw new MinosError('MN0013', 'privilege separation: cannot start a reader');
  Atomics.store(set.slots, i * FIELDS, BUSY);
  return true;
}

function setSlot(set: ReaderSet, i: number, input: number, output: number, pid: number, state: number): void {
  const b = i * FIELDS;
  set.slots[b + 1] = input;
  set.slots[b + 2] = output;
  set.slots[b + 3] = pid;
  Atomics.store(set.slots, b, state);
}

/** Open both ends of FIFO `p` blocking, without waiting for a peer: [read end, write end]. */
function openFifo(p: string): [number, number] {
  const hold = openSync(p, constants.O_RDWR);
  try {
    return [openSync(p, constants.O_RDONLY), openSync(p, constants.O_WRONLY)];
  } finally {
    closeSync(hold);
  }
}

/** Start the child of slot `i` (left DEAD when it cannot start). */
function startChild(set: ReaderSet, i: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'minos-privsep-'));
  const toChild = join(dir, 'in');
  const fromChild = join(dir, 'out');
  let ends: number[] = [];
  try {
    const mk = spawnSync('mkfifo', ['-m', '0600', toChild, fromChild], { encoding: 'utf8' });
    if (mk.status !== 0) throw new MinosError('MN0013', `privilege separation: mkfifo failed: ${(mk.stderr || String(mk.error)).trim()}`);
    const [childIn, parentOut] = openFifo(toChild);
    ends = [childIn, parentOut];
    const [parentIn, childOut] = openFifo(fromChild);
    ends.push(parentIn, childOut);
    const child = spawn(process.execPath, [set.script], {
      // Descriptors 3 and 4, not stdin and stdout, which Node or a preloaded module may make non-blocking.
      stdio: ['ignore', 'ignore', 'ignore', childIn, childOut],
      cwd: '/',
      env: {},
      uid: set.user.uid,
      gid: set.user.gid,
    });
    child.on('error', () => {});
    child.on('exit', () => children.delete(child.pid!));
    child.unref();
    closeSync(childIn);
    closeSync(childOut);
    ends = [];
    if (child.pid === undefined) {
      closeSync(parentOut);
      closeSync(parentIn);
      return;
    }
    children.set(child.pid, child);
    setSlot(set, i, parentOut, parentIn, child.pid, FRESH);
  } catch (e) {
    for (const fd of ends) closeSync(fd);
    throw e instanceof MinosError ? e : new MinosError('MN0013', `privilege separation: cannot start a reader: ${(e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Claim a slot for one package (starting its child if it has none); release it with releaseChannel. */
export function claimChannel(set: ReaderSet): Channel {
  const n = set.slots.length / FIELDS;
  for (const from of [READY, FRESH, DEAD]) {
    for (let i = 0; i < n; i++) {
      if (Atomics.compareExchange(set.slots, i * FIELDS, from, BUSY) !== from) continue;
      let fresh = from !== READY;
      if (from === DEAD) {
        try {
          fresh = fill(set, i);
        } catch (e) {
          Atomics.store(set.slots, i * FIELDS, DEAD);
          throw e;
        }
      }
      const b = i * FIELDS;
      return { input: set.slots[b + 1], output: set.slots[b + 2], pid: set.slots[b + 3], fresh, slot: i };
    }
  }
  throw new MinosError('MN0001', 'privilege separation: more threads than readers');
}

/** Give the slot back: `ok` false kills its child (it may be mid-job) and frees its descriptors. */
export function releaseChannel(set: ReaderSet, ch: Channel, ok: boolean): void {
  const b = ch.slot * FIELDS;
  if (ok) {
    Atomics.store(set.slots, b, ch.fresh ? FRESH : READY);
    return;
  }
  kill(ch.pid);
  // Unless closeReaders took the slot meanwhile (its descriptors are then closed there).
  if (Atomics.compareExchange(set.slots, b, BUSY, DEAD) !== BUSY) return;
  closeQuietly(ch.input);
  closeQuietly(ch.output);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * Done with `set`, once no thread uses it any more: idle children are kept
 * for the next set (a pool made early and closed unused hands its readers to
 * the one that replaces it), any other is killed.
 */
export function closeReaders(set: ReaderSet | undefined): void {
  if (!set) return;
  closed.add(set.slots);
  for (let i = 0; i < set.slots.length / FIELDS; i++) {
    const b = i * FIELDS;
    const state = Atomics.exchange(set.slots, b, DEAD);
    if (state === DEAD) continue;
    const [input, output, pid] = [set.slots[b + 1], set.slots[b + 2], set.slots[b + 3]];
    if ((state === READY || state === FRESH) && children.has(pid)) {
      spare.push({ user: set.user, script: set.script, input, output, pid, fresh: state === FRESH });
      continue;
    }
    kill(pid);
    closeQuietly(input);
    closeQuietly(output);
  }
}

/**
 * Kill the children of `set` now, busy or not: a thread blocked reading one
 * then sees the end of its stream. For a pool closed with jobs still running.
 */
export function killReaders(set: ReaderSet | undefined): void {
  if (!set) return;
  for (let i = 0; i < set.slots.length / FIELDS; i++) {
    if (Atomics.load(set.slots, i * FIELDS) === BUSY) kill(set.slots[i * FIELDS + 3]);
  }
}
