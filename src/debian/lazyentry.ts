/**
 * Index entries of a Debian `Packages` file whose relation fields are read
 * on first use. Of bookworm main's 63,000 packages a build or plan reads
 * the relations of a few thousand; converting every Depends, Conflicts,
 * Breaks, Recommends and Replaces up front was a third of loading the
 * file. The parser keeps those fields' bytes (packages.ts) and each entry
 * converts its own the first time any of them is read.
 *
 * Contract: a DebEntry reads as the DebianPackage the eager parser made,
 * field for field. Reading a relation field (or `materialize`) converts
 * all of the entry's relation fields at once and stores them as own data
 * properties, so that spreading, structured cloning (postMessage) and JSON
 * see them. An entry must be materialized before it leaves through any of
 * those: repo/source.ts `whole` does it, findEntry and bestCandidate apply
 * it to what they hand out, and toJSON materializes. A malformed relation
 * throws MN0216 (file, line, package, field) from that first read.
 */
import type { Arch } from '../depend.js';
import type { DebianMeta, IndexPackage } from '../types.js';
import { grownTo } from './bytetable.js';

type DebianPackageFields = IndexPackage & { debian: DebianMeta };

/** The relation fields of one package, converted (see packages.ts relations). */
export interface Relations {
  depends: string[];
  conflicts: string[];
  replaces: string[];
  optional: string[];
  preDepends: string[];
  breaks: string[];
  recommends: string[];
}

/** Converts the kept relation bytes of entry number `slot` (named `name` in errors). */
export type RelationReader = (slot: number, name: string) => Relations;

export interface EagerFields {
  name: string;
  version: string;
  arch: Arch;
  summary: string;
  provides: string[];
  builddate: number;
  installedSize: number;
  file: string;
  size: number;
  sha256: string;
}

export type EagerDebian = Omit<DebianMeta, 'preDepends' | 'breaks' | 'recommends'>;

const own = (o: object, key: string, value: unknown): void => {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
};

class DebMeta implements EagerDebian {
  essential: boolean;
  priority: string;
  multiArch: string;
  debArch: string;
  section: string;
  source: string;
  readonly #owner: DebEntry;

  constructor(d: EagerDebian, owner: DebEntry) {
    this.essential = d.essential;
    this.priority = d.priority;
    this.multiArch = d.multiArch;
    this.debArch = d.debArch;
    this.section = d.section;
    this.source = d.source;
    this.#owner = owner;
  }

  get preDepends(): string[] {
    return this.#read('preDepends');
  }

  get breaks(): string[] {
    return this.#read('breaks');
  }

  get recommends(): string[] {
    return this.#read('recommends');
  }

  #read(key: 'preDepends' | 'breaks' | 'recommends'): string[] {
    this.#owner.materialize();
    return (this as unknown as Record<string, string[]>)[key];
  }

  toJSON(): object {
    this.#owner.materialize();
    const d = this as unknown as DebianMeta;
    return { preDepends: d.preDepends, breaks: d.breaks, recommends: d.recommends, essential: d.essential, priority: d.priority, multiArch: d.multiArch, debArch: d.debArch, section: d.section, source: d.source };
  }
}

export class DebEntry implements EagerFields {
  name: string;
  version: string;
  arch: Arch;
  summary: string;
  license = '';
  provides: string[];
  builddate: number;
  installedSize: number;
  debian: DebianMeta;
  file: string;
  size: number;
  sha256: string;
  #reader: RelationReader | undefined;
  readonly #slot: number;

  constructor(e: EagerFields, d: EagerDebian, reader: RelationReader, slot: number) {
    this.name = e.name;
    this.version = e.version;
    this.arch = e.arch;
    this.summary = e.summary;
    this.provides = e.provides;
    this.builddate = e.builddate;
    this.installedSize = e.installedSize;
    this.debian = new DebMeta(d, this) as unknown as DebianMeta;
    this.file = e.file;
    this.size = e.size;
    this.sha256 = e.sha256;
    this.#reader = reader;
    this.#slot = slot;
  }

  get depends(): string[] {
    return this.#read('depends');
  }

  get conflicts(): string[] {
    return this.#read('conflicts');
  }

  get replaces(): string[] {
    return this.#read('replaces');
  }

  get optional(): string[] {
    return this.#read('optional');
  }

  /** Convert the relation fields now and keep them as own properties (idempotent). */
  materialize(): this {
    const reader = this.#reader;
    if (reader === undefined) return this;
    const r = reader(this.#slot, this.name);
    this.#reader = undefined;
    own(this, 'depends', r.depends);
    own(this, 'conflicts', r.conflicts);
    own(this, 'replaces', r.replaces);
    own(this, 'optional', r.optional);
    own(this.debian, 'preDepends', r.preDepends);
    own(this.debian, 'breaks', r.breaks);
    own(this.debian, 'recommends', r.recommends);
    return this;
  }

  #read(key: 'depends' | 'conflicts' | 'replaces' | 'optional'): string[] {
    this.materialize();
    return (this as unknown as Record<string, string[]>)[key];
  }

  /** The fields in the eager parser's order (JSON output does not depend on how an entry was read). */
  toJSON(): object {
    this.materialize();
    const e = this as unknown as DebianPackageFields;
    return {
      name: e.name, version: e.version, arch: e.arch, summary: e.summary, license: e.license, depends: e.depends, provides: e.provides,
      conflicts: e.conflicts, replaces: e.replaces, optional: e.optional, builddate: e.builddate, installedSize: e.installedSize,
      debian: e.debian, file: e.file, size: e.size, sha256: e.sha256,
    };
  }
}

/**
 * The bytes of some fields of every stanza a lazy parser read: per package
 * (its slot, in parse order), a [start, end) in `bytes` per field
 * (-1 when absent) and the stanza's first line.
 */
export class KeptBytes {
  bytes: Buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  /** Packages kept so far: the next one's slot. */
  private count = 0;
  private slots: Int32Array;
  private readonly width: number;

  /** `fields`: numbers of the fields kept (indexes into a parser's vs/ve). */
  constructor(private readonly fields: readonly number[]) {
    this.width = 2 * fields.length + 1;
    this.slots = new Int32Array(this.width << 12);
  }

  /** Copy the fields [vs[f], ve[f]) of b for the next package; returns its slot. */
  keep(b: Buffer, vs: Int32Array, ve: Int32Array, line: number): number {
    const slot = this.count++;
    const at = this.width * slot;
    if (at + this.width > this.slots.length) this.slots = grownTo(this.slots, Math.max(2 * this.slots.length, at + this.width));
    let need = this.used;
    for (const f of this.fields) if (vs[f] >= 0) need += ve[f] - vs[f];
    if (need > this.bytes.length) {
      const k = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, need));
      this.bytes.copy(k, 0, 0, this.used);
      this.bytes = k;
    }
    const slots = this.slots;
    for (let j = 0; j < this.fields.length; j++) {
      const f = this.fields[j];
      if (vs[f] < 0) {
        slots[at + 2 * j] = slots[at + 2 * j + 1] = -1;
        continue;
      }
      slots[at + 2 * j] = this.used;
      this.used += b.copy(this.bytes, this.used, vs[f], ve[f]);
      slots[at + 2 * j + 1] = this.used;
    }
    slots[at + 2 * this.fields.length] = line;
    return slot;
  }

  /** Set vs/ve of the kept fields to package `slot`'s ranges of `bytes`; returns its first line. */
  load(slot: number, vs: Int32Array, ve: Int32Array): number {
    const at = this.width * slot;
    for (let j = 0; j < this.fields.length; j++) {
      vs[this.fields[j]] = this.slots[at + 2 * j];
      ve[this.fields[j]] = this.slots[at + 2 * j + 1];
    }
    return this.slots[at + 2 * this.fields.length];
  }
}
