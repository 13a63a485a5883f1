/**
 * The unprivileged reader's entry (started by spawn.ts): reads jobs from
 * descriptor 3, one package each, and runs the same readers minos runs in-process
 * (readPackage for .mpk, readDeb for .deb) on the bytes the parent hands it
 * on request, sending each step back as a frame (frames.ts). It opens no
 * file; what it sends is checked again by the parent (read.ts), so a child
 * taken over by hostile package bytes can make the job fail, and nothing else.
 *
 * Its first frame says who it runs as, for the parent to check.
 */
import { createPublicKey } from 'node:crypto';
import { MinosError } from '../errors.js';
import { MAX_DEB, readDeb } from '../debian/deb.js';
import { readPackage, type PackageSink } from '../pkg/read.js';
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

function runDeb(job: ChildJob, out: FrameWriter, src: Source): void {
  // readDeb reads a file whole, bounded by its Packages size (as readInput bounds it).
  const max = job.expect?.size ?? MAX_DEB;
  let buf = Buffer.allocUnsafe(Math.min(max, job.size) + 1);
  let have = 0;
  for (;;) {
    if (have === buf.length) {
      if (have > max) throw new MinosError('MN0101', `${job.file}: larger than the ${max} bytes accepted`, { data: { file: job.file, max } });
      const more = Buffer.allocUnsafe(Math.min(max + 1, Math.max(2 * have, 4096)));
      buf.copy(more, 0, 0, have);
      buf = more;
    }
    const n = src.read(buf.subarray(have));
    if (n === 0) break;
    have += n;
  }
  const sink: PackageSink = {
    begin(e) {
      out.frame(F.begin, Buffer.from(JSON.stringify(e)));
    },
    data(chunk) {
      out.frame(F.chunk, chunk);
    },
    end() {
      out.frame(F.end);
    },
  };
  const r = readDeb(job.file, { bytes: buf.subarray(0, have), expect: job.expect, entry: job.deb!.entry, signer: job.deb!.signer, sink });
  const { files: _files, ...manifest } = r.manifest;
  out.frame(F.finish, Buffer.from(JSON.stringify({
    manifest, control: r.manifestBytes.toString('utf8'), stanza: [...r.control.fields], line: r.control.line, scripts: r.scripts, members: r.members, newest: r.newest,
    ...(r.license === undefined ? {} : { license: r.license }),
  })));
}

function main(): void {
  const inp = frameReader(CHILD_IN);
  const out = frameWriter(CHILD_OUT);
  out.frame(F.hello, Buffer.from(JSON.stringify({
    uid: process.getuid!(), gid: process.getgid!(), euid: process.geteuid!(), egid: process.getegid!(), groups: process.getgroups!(),
  })));
  out.flush();
  for (;;) {
    const f = inp.next();
    if (!f || f.type !== F.job) return;
    const job = JSON.parse(f.body.toString('utf8')) as ChildJob;
    const src = source(job, out, inp);
    try {
      if (job.kind === 'deb') runDeb(job, out, src);
      else runMpk(job, out, src);
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
