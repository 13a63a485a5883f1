/**
 * Downloads. As root (privuser.ts), every HTTP(S) transfer runs in an
 * unprivileged child process (fetchchild.ts), one per minos process, started
 * at the first download and reused, one transfer at a time: the TLS, HTTP and
 * proxy code that reads bytes from the network runs as that user, with no
 * file open, `/` as its folder and only the proxy and timeout settings of the
 * environment. This side receives the body and hands it to the caller (who
 * hashes and stores it), never more than the `max` bytes it asked for.
 *
 * A downloader that breaks the protocol (no or a wrong hello, a frame too
 * large or of an unknown type, more bytes than asked for, a malformed error,
 * exiting mid-transfer) fails the download with MN0217 and is killed; one
 * silent for longer than the HTTP timeout plus a grace fails it with MN0010.
 * The next download starts a fresh one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { helperError, MinosError } from '../errors.js';
import { readInputText } from '../input.js';
import { privsepUser, runsAlone, type PrivsepUser } from '../privuser.js';
import { httpGet, httpTimeout } from './http.js';

export const FETCH_FRAME = { hello: 0x48, data: 0x44, end: 0x45, error: 0x58 } as const;

/** One request line to the downloader. */
export interface FetchRequest {
  url: string;
  max: number;
  /** PEM that NODE_EXTRA_CA_CERTS names: the downloader may not be able to read the file. */
  extraCa?: string;
}

/** Frames larger than this are a broken protocol (data frames are socket reads, at most 64 KiB). */
const MAX_FRAME = 1 << 20;
/** Beyond the HTTP timeout, how long a silent downloader is given (it reports its own timeouts first). */
const GRACE_MS = 5000;
/** What of the environment the downloader gets. */
const PASSED = /^(https?_proxy|no_proxy|MINOS_HTTP_TIMEOUT)$/i;

/** The built downloader beside this module, if there is one (running from TypeScript sources there is not). */
export function fetchScript(): string | undefined {
  const f = fileURLToPath(new URL('./fetchchild.js', import.meta.url));
  return existsSync(f) ? f : undefined;
}

interface Helper {
  child: ChildProcess;
  script: string;
  pending: Buffer;
  hello: boolean;
  onFrame?: (type: number, body: Buffer) => void;
  /** The transfer under way fails: the protocol broke (what it did), or the error. */
  onFail?: (why: string | MinosError) => void;
}

let helper: Helper | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * GET `url` as httpGet does (same errors), passing the body to `sink`; as
 * root through the unprivileged downloader (`script`, default the built one).
 */
export function download(url: string, max: number, sink: (chunk: Uint8Array) => void, env: NodeJS.ProcessEnv = process.env, script = fetchScript()): Promise<void> {
  const user = privsepUser(env);
  if (!user || !script) return httpGet(url, max, sink, env);
  const run = queue.then(() => viaHelper(user, script, url, max, sink, env));
  queue = run.catch(() => {});
  return run;
}

/** Stop the downloader (it also stops by itself when minos exits). */
export function stopDownloader(): void {
  if (helper) kill(helper);
}

function broken(what: string, url: string): MinosError {
  return new MinosError('MN0217', `${url}: the unprivileged downloader ${what}`, { data: { url } });
}

function kill(h: Helper): void {
  if (helper === h) helper = undefined;
  h.onFrame = undefined;
  h.onFail = undefined;
  h.child.kill('SIGKILL');
}

function viaHelper(user: PrivsepUser, script: string, url: string, max: number, sink: (chunk: Uint8Array) => void, env: NodeJS.ProcessEnv): Promise<void> {
  if (helper && helper.script !== script) kill(helper);
  const h = (helper ??= startHelper(user, script, env));
  const ms = httpTimeout(env) + GRACE_MS;
  return new Promise<void>((resolve, reject) => {
    let got = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (e?: Error, killIt = false) => {
      clearTimeout(timer);
      h.onFrame = undefined;
      h.onFail = undefined;
      if (killIt) kill(h);
      if (e) reject(e);
      else resolve();
    };
    // A pending timer also keeps the event loop alive: the child's pipes are unreferenced.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(new MinosError('MN0010', `${url}: the unprivileged downloader was silent for ${ms / 1000} s`, { data: { url } }), true), ms);
    };
    h.onFrame = (type, body) => {
      arm();
      if (type === FETCH_FRAME.data) {
        got += body.length;
        if (got > max) return done(broken(`sent more than the ${max} bytes asked for`, url), true);
        try {
          sink(body);
        } catch (e) {
          done(e as Error, true);
        }
      } else if (type === FETCH_FRAME.end) done();
      else if (type === FETCH_FRAME.error) {
        const e = helperError(jsonOf(body), { url });
        done(e ?? broken('sent a malformed error', url), !e);
      } else done(broken(`sent a frame of type ${type}`, url), true);
    };
    h.onFail = (why) => done(typeof why === 'string' ? broken(why, url) : why, true);
    arm();
    const pem = extraCa(env);
    const req: FetchRequest = { url, max, ...(pem ? { extraCa: pem } : {}) };
    h.child.stdin!.write(`${JSON.stringify(req)}\n`);
  });
}

function startHelper(user: PrivsepUser, script: string, env: NodeJS.ProcessEnv): Helper {
  const childEnv = Object.fromEntries(Object.entries(env).filter(([k, v]) => PASSED.test(k) && v !== undefined)) as NodeJS.ProcessEnv;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'ignore'], cwd: '/', env: childEnv, uid: user.uid, gid: user.gid });
  } catch (e) {
    throw new MinosError('MN0013', `privilege separation: cannot start the downloader: ${(e as Error).message}`);
  }
  const h: Helper = { child, script, pending: Buffer.alloc(0), hello: false };
  // A failure outside a transfer only ends the downloader; the next download starts another.
  const fail = (why: string | MinosError) => {
    const onFail = h.onFail;
    kill(h);
    onFail?.(why);
  };
  child.on('error', (e) => fail(new MinosError('MN0013', `privilege separation: cannot start the downloader: ${e.message}`)));
  child.on('exit', () => fail('exited'));
  child.stdin!.on('error', () => {});
  child.stdout!.on('data', (chunk: Buffer) => {
    h.pending = h.pending.length ? Buffer.concat([h.pending, chunk]) : chunk;
    while (h.pending.length >= 5 && helper === h) {
      const len = h.pending.readUInt32LE(1);
      if (len > MAX_FRAME) return fail('sent an oversized frame');
      if (h.pending.length < 5 + len) return;
      const type = h.pending[0];
      const body = h.pending.subarray(5, 5 + len);
      h.pending = h.pending.subarray(5 + len);
      if (!h.hello) {
        if (type !== FETCH_FRAME.hello || !runsAlone(jsonOf(body), user)) {
          return fail(new MinosError('MN0013', `privilege separation: the downloader does not run as ${user.name} (${user.uid}:${user.gid}) alone`));
        }
        h.hello = true;
      } else if (h.onFrame) h.onFrame(type, body);
      else return fail('sent a frame outside a transfer');
    }
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  return h;
}

/** A frame body as JSON, undefined when it is not. */
function jsonOf(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

let ca: { file: string; pem: string | undefined } | undefined;

/** The certificates NODE_EXTRA_CA_CERTS names, read here (as Node would, an unreadable file adds none). */
function extraCa(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  if (ca?.file !== file) {
    let pem: string | undefined;
    try {
      pem = readInputText(file, 16 << 20);
    } catch {
      pem = undefined;
    }
    ca = { file, pem };
  }
  return ca.pem;
}
