/**
 * HTTP(S) GET for repository files, bounded in time, size and redirects.
 *
 * - Timeouts: connecting (TCP, proxy CONNECT and TLS) and every silence while
 *   waiting for headers or body bytes are each limited to MINOS_HTTP_TIMEOUT
 *   seconds (default 30); a stalled server fails with MN0010.
 * - Redirects: at most MAX_REDIRECTS, to the same scheme or from http to
 *   https; never from https to http.
 * - Proxies as curl and wget read them: HTTPS_PROXY / https_proxy for https
 *   URLs, HTTP_PROXY / http_proxy for http URLs, NO_PROXY / no_proxy a
 *   comma-separated list of host names (a name also matches its subdomains,
 *   a leading `.` or `*.` is ignored, `*` matches everything, an optional
 *   `:port` must match too). Proxies are http:// URLs, optionally with
 *   user:password; https goes through them with CONNECT, so the proxy sees
 *   only the host name and the TLS stream.
 * - The body may not exceed the caller's bound (what the signed index says,
 *   or a cap): the transfer stops at the first byte beyond it.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import type { Socket } from 'node:net';
import { MinosError } from '../errors.js';

export const MAX_REDIRECTS = 5;
/** The timeout error of a request that timed out, which its response stream reports only as "aborted". */
const timedOut = new WeakMap<ClientRequest, MinosError>();
const DEFAULT_TIMEOUT_S = 30;

/** The timeout in milliseconds from MINOS_HTTP_TIMEOUT (seconds, may be fractional). */
export function httpTimeout(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.MINOS_HTTP_TIMEOUT;
  if (v === undefined || v === '') return DEFAULT_TIMEOUT_S * 1000;
  if (!/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(v) || Number(v) <= 0) {
    throw new MinosError('MN0002', `MINOS_HTTP_TIMEOUT="${v}" is not a positive number of seconds`);
  }
  return Math.round(Number(v) * 1000);
}

function envOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  for (const v of [env[name.toLowerCase()], env[name.toUpperCase()]]) if (v !== undefined && v.trim() !== '') return v.trim();
  return undefined;
}

/** Does NO_PROXY exempt `url`'s host? */
export function noProxy(url: URL, env: NodeJS.ProcessEnv = process.env): boolean {
  const list = envOf(env, 'no_proxy');
  if (!list) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let item of list.split(/[,\s]+/)) {
    item = item.trim().toLowerCase();
    if (item === '') continue;
    if (item === '*') return true;
    let itemPort: string | undefined;
    const m = /^(.*?)(?::([0-9]+))?$/.exec(item.startsWith('[') ? item.replace(/^\[(.*)\](:[0-9]+)?$/, '$1$2') : item)!;
    if (m[2] !== undefined && !item.includes('::')) {
      item = m[1];
      itemPort = m[2];
    }
    item = item.replace(/^\*?\./, '');
    if (itemPort !== undefined && itemPort !== port) continue;
    if (host === item || host.endsWith(`.${item}`)) return true;
  }
  return false;
}

/** The proxy for `url`, or undefined for a direct connection. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const v = envOf(env, url.protocol === 'https:' ? 'https_proxy' : 'http_proxy');
  if (v === undefined || noProxy(url, env)) return undefined;
  let p: URL;
  try {
    p = new URL(v.includes('://') ? v : `http://${v}`);
  } catch {
    throw new MinosError('MN0002', `proxy "${v}" is not a URL`, { hint: 'set HTTP_PROXY / HTTPS_PROXY to http://HOST:PORT' });
  }
  if (p.protocol !== 'http:') throw new MinosError('MN0002', `proxy ${p.origin}: only http:// proxies are supported`, { hint: 'set HTTP_PROXY / HTTPS_PROXY to http://HOST:PORT' });
  return p;
}

function proxyAuth(p: URL): Record<string, string> {
  if (!p.username) return {};
  const cred = `${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

function timeoutError(url: string, what: string, ms: number): MinosError {
  return new MinosError('MN0010', `${url}: no answer ${what ? `${what} ` : ''}within ${ms / 1000} s`, {
    hint: 'check the network or proxy, or set MINOS_HTTP_TIMEOUT=SECONDS',
    data: { url },
  });
}

function netError(url: string, e: unknown, via?: URL): MinosError {
  if (e instanceof MinosError) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ECONNREFUSED' ? 'connection refused'
    : err.code === 'ENOTFOUND' ? 'host not found'
    : err.code === 'ECONNRESET' ? 'connection reset'
    : err.message;
  return new MinosError('MN0003', `${url}: ${why}${err.code && !why.includes(err.code) ? ` (${err.code})` : ''}${via ? ` through proxy ${via.host}` : ''}`, {
    cause: e,
    data: { url, errno: err.code },
  });
}

/** Open a tunnel to host:port through `proxy` with CONNECT; resolves to the raw socket. */
function tunnel(proxy: URL, target: URL, ms: number, url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const port = target.port || '443';
    const req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      method: 'CONNECT',
      path: `${target.hostname}:${port}`,
      headers: { host: `${target.hostname}:${port}`, ...proxyAuth(proxy) },
      timeout: ms,
    });
    req.once('timeout', () => req.destroy(timeoutError(url, `from proxy ${proxy.host}`, ms)));
    req.once('error', (e) => reject(netError(url, e, proxy)));
    req.once('connect', (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new MinosError('MN0003', `${url}: proxy ${proxy.host} refused the tunnel (HTTP ${res.statusCode})`, { data: { url } }));
        return;
      }
      resolve(socket);
    });
    req.end();
  });
}

/** One GET without following redirects; resolves to the response (body unread). */
async function getOnce(target: URL, ms: number, env: NodeJS.ProcessEnv, ca: string[] | undefined): Promise<{ res: IncomingMessage; req: ClientRequest }> {
  const url = target.href;
  const proxy = proxyFor(target, env);
  const headers: Record<string, string> = { 'user-agent': 'minos', accept: '*/*' };
  let req: ClientRequest;
  if (target.protocol === 'https:') {
    const raw = proxy ? await tunnel(proxy, target, ms, url) : undefined;
    req = httpsRequest(target, {
      headers,
      timeout: ms,
      ...(ca ? { ca } : {}),
      ...(raw ? { createConnection: () => tlsConnect({ socket: raw, servername: target.hostname, ...(ca ? { ca } : {}) }) } : {}),
      agent: false,
    });
  } else if (proxy) {
    req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      path: url,
      headers: { ...headers, host: target.host, ...proxyAuth(proxy) },
      timeout: ms,
      agent: false,
    });
  } else {
    req = httpRequest(target, { headers, timeout: ms, agent: false });
  }
  return new Promise((resolve, reject) => {
    // `timeout` arms the socket's idle timer: it covers connecting and every silence after.
    req.once('timeout', () => {
      const err = timeoutError(url, '', ms);
      timedOut.set(req, err);
      req.destroy(err);
    });
    req.once('error', (e) => reject(netError(url, e, proxy)));
    req.once('response', (res) => resolve({ res, req }));
    req.end();
  });
}

export interface GetOptions {
  /** PEM certificates trusted beside the built-in ones (what NODE_EXTRA_CA_CERTS names, read by the parent of a helper that cannot read it). */
  extraCa?: string;
}

/**
 * GET `url`, following at most MAX_REDIRECTS redirects, and pass the body to
 * `sink` chunk by chunk; MN0206 as soon as it exceeds `max` bytes, MN0212 for
 * HTTP 404, MN0003 for other failures, MN0010 on a timeout.
 */
export async function httpGet(url: string, max: number, sink: (chunk: Uint8Array) => void, env: NodeJS.ProcessEnv = process.env, opts: GetOptions = {}): Promise<void> {
  const ms = httpTimeout(env);
  const ca = opts.extraCa ? [...rootCertificates, opts.extraCa] : undefined;
  let target = new URL(url);
  for (let hops = 0; ; hops++) {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new MinosError('MN0003', `${url}: not an http(s) URL`, { data: { url } });
    const { res, req } = await getOnce(target, ms, env, ca);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304) {
      res.resume();
      const loc = res.headers.location;
      if (!loc) throw new MinosError('MN0003', `${target.href}: HTTP ${status} without a Location`, { data: { url } });
      if (hops >= MAX_REDIRECTS) throw new MinosError('MN0003', `${url}: more than ${MAX_REDIRECTS} redirects`, { data: { url } });
      let next: URL;
      try {
        next = new URL(loc, target);
      } catch {
        throw new MinosError('MN0003', `${target.href}: redirect to an invalid URL`, { data: { url } });
      }
      if (next.protocol !== target.protocol && !(target.protocol === 'http:' && next.protocol === 'https:')) {
        throw new MinosError('MN0003', `${target.href}: redirect from ${target.protocol} to ${next.protocol} refused`, { data: { url, location: next.href } });
      }
      target = next;
      continue;
    }
    if (status === 404) {
      res.resume();
      throw new MinosError('MN0212', `${url}: not found (HTTP 404)`, { data: { url } });
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new MinosError('MN0003', `${url}: HTTP ${status}`, { data: { url } });
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.destroy();
      throw new MinosError('MN0206', `${url}: larger than the ${max} bytes expected`, { data: { url } });
    }
    let total = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > max) throw new MinosError('MN0206', `${url}: larger than the ${max} bytes expected`, { data: { url } });
        sink(chunk);
      }
    } catch (e) {
      req.destroy();
      throw timedOut.get(req) ?? netError(url, e, proxyFor(target, env));
    }
    if (!res.complete) throw new MinosError('MN0003', `${url}: connection closed before the end of the body`, { data: { url } });
    return;
  }
}
