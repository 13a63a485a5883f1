/**
 * Helpers for the crash tests: run minos under strace with a fault injected
 * at the Nth invocation of a system call (a SIGKILL, or an errno such as
 * ENOSPC), find which invocations a command makes, and take the whole state
 * of a root (every node with mode, owner and content, minos's own files
 * included) so that it can be compared with the old and the new state.
 *
 * strace counts invocations per thread: `when=N` fires at the first thread
 * to reach its Nth call. The candidates are taken from the main thread (the
 * one that journals and switches); which call was actually hit is read back
 * from strace's own log (the line marked INJECTED).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from './cli.js';

/** Syscall classes, each a set strace counts together (one of them is the one node uses). */
export const CLASSES: Record<string, string[]> = {
  rename: ['rename', 'renameat', 'renameat2'],
  unlink: ['unlink', 'unlinkat'],
  link: ['link', 'linkat'],
  mkdir: ['mkdir', 'mkdirat'],
  rmdir: ['rmdir'],
  openat: ['openat'],
  write: ['write', 'pwrite64', 'writev'],
  fsync: ['fsync', 'fdatasync'],
  chmod: ['fchmod', 'fchmodat', 'chmod', 'fchown', 'fchownat', 'lchown'],
};

export interface Point {
  cls: string;
  /** Invocation number within the class's first syscall that the main thread makes (strace `when=`). */
  syscall: string;
  n: number;
  /** The call as strace printed it (shortened). */
  call: string;
}

export interface StraceRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The call strace injected into, if any. */
  injected?: string;
}

const ALL = Object.values(CLASSES).flat();

function parseLog(log: string): { pid: number; name: string; text: string }[] {
  const out: { pid: number; name: string; text: string }[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d+) +([a-z0-9_]+)\(/.exec(line);
    if (m) out.push({ pid: Number(m[1]), name: m[2], text: line.slice(m[0].length - m[2].length - 1, 400) });
  }
  return out;
}

/** Does this call change something under `root` (or could fail for lack of space or a read-only file system there)? */
function touchesRoot(name: string, text: string, root: string): boolean {
  if (!text.includes(`${root}/`) && !text.includes(`"${root}"`)) return false;
  if (name === 'openat') return /O_WRONLY|O_RDWR|O_CREAT/.test(text);
  return true;
}

/**
 * Run minos on `root` under strace, tracing every class, and list the main
 * thread's calls that change the root, numbered per syscall as strace's
 * `when=` counts them.
 */
export function points(root: string, args: string[], env: Record<string, string> = {}): Point[] & { stderr?: string } {
  const log = `${root}.strace`;
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-o', log, '-e', `trace=${ALL.join(',')}`, process.execPath, BIN, '--root', root, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`strace minos ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const calls = parseLog(readFileSync(log, 'utf8'));
  rmSync(log, { force: true });
  const main = calls[0]?.pid; // the process's first calls (loading node) come before it starts any thread
  const count = new Map<string, number>();
  const out: Point[] & { stderr?: string } = [];
  out.stderr = r.stderr;
  // Confined operations name /proc/PID/fd/N/NAME (src/confine.ts): N's path, from the open that returned it (strace -y), says where.
  const fds = new Map<string, string>();
  for (const c of calls) {
    if (c.pid !== main) continue;
    const n = (count.get(c.name) ?? 0) + 1;
    count.set(c.name, n);
    const opened = c.name === 'openat' ? / = (\d+)<([^>]*)>$/.exec(c.text) : null;
    if (opened) fds.set(opened[1], opened[2]);
    c.text = c.text.replace(/"\/proc\/(?:self|\d+)\/fd\/(\d+)/g, (m, fd: string) => (fds.has(fd) ? `"${fds.get(fd)}` : m));
    if (!touchesRoot(c.name, c.text, root)) continue;
    const cls = Object.keys(CLASSES).find((k) => CLASSES[k].includes(c.name))!;
    out.push({ cls, syscall: c.name, n, call: c.text.replaceAll(root, 'ROOT').slice(0, 160) });
  }
  return out;
}

/** Seconds a run under injection may take before it counts as hung and is killed. */
const HANG_S = 120;

/** Run minos with `inject` (`signal=KILL`, `error=ENOSPC`…) at the `n`th call of `syscall`. */
export function injectRun(root: string, args: string[], syscall: string, n: number, inject: string): StraceRun {
  const log = `${root}.strace`;
  // `when` counts each thread's calls: a fault can land in one of libuv's own (its signal lock's pipe, an
  // eventfd), which it answers with abort() and may then hang. timeout kills strace and minos alike (one
  // process group) after HANG_S: a SIGKILL at an unknown point, which the next command must recover from.
  const r = spawnSync('timeout', ['-s', 'KILL', String(HANG_S), 'strace', '-f', '-qq', '-y', '-o', log, '-e', `trace=${syscall}`, '-e', `inject=${syscall}:${inject}:when=${n}`, process.execPath, BIN, '--root', root, ...args], {
    encoding: 'utf8',
  });
  let injected: string | undefined;
  try {
    injected = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('(INJECTED)') || /^\d+ +\w+\(.*( = \?| <unfinished ...>)$/.test(l));
  } finally {
    rmSync(log, { force: true });
  }
  // timeout's own status for a hung run (137, as for a SIGKILL under strace): named in `injected` too.
  const hung = r.status === 137 && !injected?.includes('(INJECTED)') ? ' (hung: killed)' : '';
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, injected: injected === undefined ? undefined : `${injected.replaceAll(root, 'ROOT').slice(0, 200)}${hung}` };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files a killed or failed minos may leave for the next command to remove, and that must not outlive it. */
export const LITTER = /\.(new|stale|part)-\d+$|\.minos-tmp|\.strace$/;

export interface RootState {
  /** path → type, mode, owner, content hash or link target. */
  tree: Map<string, string>;
  /** What should not be there: temporary files, a lock, transactions, salvage. */
  litter: string[];
}

/**
 * The whole state of a root. Left out: the package cache (packages may stay
 * cached whatever the outcome; only complete SHA256.mpk files are allowed),
 * the accepted serials (an index seen is remembered whether or not the
 * transaction went through) and the times in the history.
 */
export function rootState(root: string): RootState {
  const tree = new Map<string, string>();
  const litter: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      if (LITTER.test(name)) litter.push(r);
      if (r === 'var/lib/minos/serials.json') continue;
      if (r === 'var/lib/minos/lock' || r === 'var/lib/minos/salvage') litter.push(r);
      if (r === 'var/cache/minos') {
        for (const c of readdirSync(p)) if (!/^[0-9a-f]{64}\.(mpk|deb)$/.test(c)) litter.push(`${r}/${c}`);
        continue;
      }
      if (r === 'var/lib/minos/txn') {
        for (const c of readdirSync(p)) litter.push(`${r}/${c}`);
        continue;
      }
      const base = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        tree.set(r, `${base} dir`);
        walk(r);
      } else if (st.isSymbolicLink()) tree.set(r, `${base} -> ${readlinkSync(p)}`);
      else if (st.isFile()) {
        let data = readFileSync(p);
        if (r === 'var/lib/minos/history.json') data = Buffer.from(data.toString().replace(/"time":"[^"]*"/g, '"time":"T"'));
        tree.set(r, `${base} ${sha(data)}`);
      } else tree.set(r, base);
    }
  };
  if (existsSync(root)) walk('');
  return { tree, litter };
}

export function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** The first few differences, for a failure message. */
export function treeDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: ${v} vs ${b.get(k) ?? 'missing'}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: missing vs ${b.get(k)}`);
  return out.slice(0, 6);
}
