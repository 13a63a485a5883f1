/** Test helpers: run the built CLI as a subprocess, make temp folders and fixtures. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin/minos.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `minos ARGS`, optionally as another user (`runuser -u USER`). */
export function minos(args: string[], opts: { cwd?: string; env?: Record<string, string>; user?: string } = {}): Run {
  const env = { ...process.env, ...opts.env };
  // tap's hook in NODE_OPTIONS would try to write its records into the checkout as that user.
  if (opts.user) delete env.NODE_OPTIONS;
  const spawnOpts: SpawnSyncOptions = { cwd: opts.cwd ?? ROOT, env, encoding: 'utf8', maxBuffer: 256 << 20 };
  const r = opts.user
    ? spawnSync('runuser', ['-u', opts.user, '--', process.execPath, BIN, ...args], spawnOpts)
    : spawnSync(process.execPath, [BIN, ...args], spawnOpts);
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * `minos ARGS` without blocking this process (a server of the test can answer
 * it). As another user the environment is only PATH and HOME: tap's hook in
 * NODE_OPTIONS would write its records into the checkout as that user.
 */
export function minosAsync(args: string[], opts: { env?: Record<string, string>; user?: string } = {}): Promise<Run> {
  const p = opts.user
    ? spawn('env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'HOME=/nonexistent', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      'runuser', '-u', opts.user, '--', process.execPath, BIN, ...args], { cwd: ROOT })
    : spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok, fail) => {
    p.on('error', fail);
    p.on('close', (code) => ok({ code: code ?? 128, stdout, stderr }));
  });
}

/** A fresh temp folder removed when the test ends. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'minos-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => {
    unmountUnder(d);
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

/**
 * Unmount whatever is mounted below `dir`, deepest first: a peer killed
 * mid-run (mmdebstrap mounts proc, sys and dev below its root) would
 * otherwise leave mounts that the removal walks into and cannot remove.
 */
export function unmountUnder(dir: string): void {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  const below = mounts.split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(`${dir}/`));
  for (const m of below.sort().reverse()) spawnSync('umount', ['-l', m]);
}

/** Write files: keys are relative paths, values contents (string or Buffer). */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export function sh(cmd: string, opts: { cwd?: string; input?: string | Buffer } = {}): string {
  const r = spawnSync('sh', ['-c', cmd], { cwd: opts.cwd, input: opts.input, encoding: 'buffer', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${String(r.stderr)}`);
  return String(r.stdout);
}

/** Serve the files under `dir` on loopback until the test ends; `onRequest` counts requests. Returns the base URL. */
export async function serveFolder(t: { teardown(fn: () => void): void }, dir: string, onRequest: (req: IncomingMessage) => void = () => {}): Promise<string> {
  const server = createServer((req, res) => {
    onRequest(req);
    const f = join(dir, decodeURIComponent(req.url!.slice(1)));
    if (!f.startsWith(`${dir}/`) || !existsSync(f) || !statSync(f).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(f).size });
    createReadStream(f).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
