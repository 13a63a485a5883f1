/**
 * The unprivileged downloader's entry (started by fetch.ts when minos runs
 * as root). Its first frame says who it runs as; then, for each request line
 * on stdin (JSON: url, max, extraCa), it runs httpGet and sends the body as
 * `data` frames and an `end` frame, or one `error` frame (a MinosError as
 * JSON). It writes no file: the parent hashes and stores what it sends.
 *
 * Frames (fetch.ts FETCH_FRAME): one type byte, a 32-bit little-endian body
 * length, the body.
 */
import { MinosError } from '../errors.js';
import { identity } from '../privuser.js';
import { FETCH_FRAME, type FetchRequest } from './fetch.js';
import { httpGet } from './http.js';

function frame(type: number, body: Uint8Array = Buffer.alloc(0)): void {
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32LE(body.length, 1);
  process.stdout.write(head);
  if (body.length > 0) process.stdout.write(body);
}

async function serve(req: FetchRequest): Promise<void> {
  try {
    await httpGet(req.url, req.max, (chunk) => frame(FETCH_FRAME.data, chunk), process.env, { extraCa: req.extraCa });
    frame(FETCH_FRAME.end);
  } catch (e) {
    const error = e instanceof MinosError
      ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
      : { code: 'MN0003', message: `${req.url}: ${(e as Error)?.message ?? String(e)}` };
    frame(FETCH_FRAME.error, Buffer.from(JSON.stringify(error)));
  }
}

async function main(): Promise<void> {
  // minos gone (its end of either pipe closed): stop at once, even mid-transfer.
  process.stdin.on('end', () => process.exit(0));
  process.stdout.on('error', () => process.exit(0));
  frame(FETCH_FRAME.hello, Buffer.from(JSON.stringify(identity())));
  let pending = '';
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    pending += chunk.toString('utf8');
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      await serve(JSON.parse(line) as FetchRequest);
    }
  }
}

void main();
