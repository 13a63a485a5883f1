/**
 * The unprivileged reader's entry (started by spawn.ts): reads jobs from
 * descriptor 3, one package each, and runs the same reader minos runs
 * in-process (readPackage) on the bytes the parent hands it
 * on request, sending each step back as a frame (frames.ts). It opens no
 * file; what it sends is checked again by the parent (read.ts), so a child
 * taken over by hostile package bytes can make the job fail, and nothing else.
 *
 * Its first frame says who it runs as, for the parent to check.
 */
import { createPublicKey } from 'node:crypto';
import { MinosError } from '../errors.js';
import { readPackage, type PackageSink } from '../pkg/read.js';
import { identity } from '../privuser.js';
import { keyId, type Keyring, type PublicKey } from '../repo/keys.js';
import { CHILD_IN, CHILD_OUT, F, frameReader, frameWriter, READ_CHUNK, u32, type ChildJob, type FrameReader, type FrameWriter } from './frames.js';

class Gone extends Error {}

/**
 * The package's bytes as a read function: the parent sends the first chunk
 * with the job unasked; each later one is asked for (`read`), until the
 * `size` bytes the job names are in (the parent serves no more).
 */
interface Source {
  read(buf: Buffer): number;
  /** After the job: take the first chunk if the job ended before reading it. */
  drain(): void;
}

function source(job: ChildJob, out: FrameWriter, inp: FrameReader): Source {
  let got = 0;
  let asked = true;
  let rest: Buffer | undefined;
  const read = (buf: Buffer): number => {
    if (!rest) {
      if (!asked && got >= job.size) return 0;
      if (!asked) out.frame(F.read, u32(READ_CHUNK));
      out.flush();
      asked = false;
      const f = inp.next();
      if (!f || f.type !== F.data || f.body.length > READ_CHUNK) throw new Gone();
      rest = f.body;
    }
    const n = rest.copy(buf);
    rest = n < rest.length ? Buffer.from(rest.subarray(n)) : undefined;
    got += n;
    return n;
  };
  return {
    read,
    drain() {
      if (!asked) return;
      const f = inp.next();
      if (!f || f.type !== F.data) throw new Gone();
    },
  };
}

/** Keys already made, by file and PEM: a build's jobs all send the same few. */
const made = new Map<string, PublicKey>();

function keyringOf(keys: { file: string; pem: string }[]): Keyring {
  const ring: Keyring = new Map();
  for (const k of keys) {
    let pk = made.get(`${k.file}\0${k.pem}`);
    if (!pk) {
      const key = createPublicKey(k.pem);
      pk = { id: keyId(key), key, file: k.file };
      made.set(`${k.file}\0${k.pem}`, pk);
    }
    ring.set(pk.id, pk);
  }
  return ring;
}

function runMpk(job: ChildJob, out: FrameWriter, src: Source): void {
  let index = 0;
  const sink: PackageSink = {
    manifest(m, signed) {
      out.frame(F.manifest, Buffer.concat([Buffer.from(m.signer, 'latin1'), signed.signature, signed.bytes]));
    },
    begin() {
      out.frame(F.begin, u32(index++));
    },
    data(chunk) {
      out.frame(F.chunk, chunk);
    },
    end() {
      out.frame(F.end);
    },
    // The parent hashes every file itself.
    checksFiles: true,
  };
  readPackage(job.file, {
    keyring: keyringOf(job.keys ?? []), expect: job.expect, sink,
    input: { size: job.size, read: src.read },
  });
  out.frame(F.finish, Buffer.from('{}'));
}

function main(): void {
  const inp = frameReader(CHILD_IN);
  const out = frameWriter(CHILD_OUT);
  out.frame(F.hello, Buffer.from(JSON.stringify(identity())));
  out.flush();
  for (;;) {
    const f = inp.next();
    if (!f || f.type !== F.job) return;
    const job = JSON.parse(f.body.toString('utf8')) as ChildJob;
    const src = source(job, out, inp);
    try {
      runMpk(job, out, src);
    } catch (e) {
      if (e instanceof Gone) return;
      const error = e instanceof MinosError
        ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
        : { code: 'MN0001', message: `unprivileged reader: ${(e as Error)?.message ?? String(e)}` };
      out.frame(F.error, Buffer.from(JSON.stringify(error)));
    }
    try {
      src.drain();
    } catch {
      return;
    }
    out.flush();
  }
}

main();
