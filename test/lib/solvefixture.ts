/**
 * Text fixtures for resolver tests (one case per file, like apk-tools'
 * solver tests). Format, one directive per line, `#` starts a comment:
 *
 *   repo NAME [priority N]        packages below belong to it (default: main, 0)
 *   pkg NAME VERSION [ARCH]       a package (ARCH default x86_64)
 *     depends: a >= 1, b | c      comma-separated lists (indented field lines)
 *     provides: / conflicts: / optional: / replaces:
 *   arch ARCH                     target (default x86_64)
 *   installed NAME VERSION [ARCH] [REPO]
 *   request STRING                one request (may use | and name@repo)
 *   upgrade [NAME...]             no names: upgrade everything
 *   remove NAME...
 *   optional | autoremove         flags
 *   expect result NAME=VERSION[@REPO] ...   exact resulting set ("expect result" alone: empty)
 *   expect install|remove NAME[=VERSION] ...
 *   expect upgrade NAME=FROM->TO ...
 *   expect error CODE [TEXT]      fails with CODE; message contains TEXT
 *   expect hint TEXT              the error's hint contains TEXT
 */
import type { PackageMeta } from '../../src/types.js';
import type { Arch } from '../../src/depend.js';
import type { Candidate, InstalledPackage, Request } from '../../src/solve/solver.js';

export interface Fixture {
  name: string;
  description: string;
  request: Request & { candidates: Candidate[]; installed: InstalledPackage[] };
  expect: {
    result?: string[];
    install?: string[];
    remove?: string[];
    upgrade?: string[];
    error?: { code: string; text?: string };
    hint?: string;
  };
}

export function meta(name: string, version: string, arch: string, fields: Partial<PackageMeta> = {}): PackageMeta {
  return {
    name, version, arch: arch as Arch, summary: '', license: 'MIT',
    depends: [], provides: [], conflicts: [], replaces: [], optional: [],
    builddate: 0, installedSize: 0, ...fields,
  };
}

export function parseFixture(name: string, text: string): Fixture {
  const candidates: Candidate[] = [];
  const installed: InstalledPackage[] = [];
  const requests: string[] = [];
  const remove: string[] = [];
  let upgrade: true | string[] | undefined;
  let arch = 'x86_64';
  let optional = false;
  let autoremove = false;
  let repo = 'main';
  let priority = 0;
  let cur: PackageMeta | undefined;
  const expect: Fixture['expect'] = {};
  const comments: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const fail = (why: string): never => {
      throw new Error(`${name}:${i + 1}: ${why}`);
    };
    if (/^\s*#/.test(raw)) {
      comments.push(raw.replace(/^\s*#\s?/, ''));
      return;
    }
    const line = raw.trimEnd();
    if (line.trim() === '') return;
    if (/^\s/.test(line)) {
      const m = /^\s+(depends|provides|conflicts|optional|replaces):\s*(.*)$/.exec(line);
      if (!m || !cur) return fail(`bad field line "${line}"`);
      cur[m[1] as 'depends'] = m[2].split(',').map((s) => s.trim()).filter(Boolean);
      return;
    }
    const [word, ...rest] = line.split(/\s+/);
    const tail = line.slice(word.length).trim();
    switch (word) {
      case 'repo':
        repo = rest[0];
        priority = rest[1] === 'priority' ? Number(rest[2]) : 0;
        break;
      case 'pkg':
        cur = meta(rest[0], rest[1], rest[2] ?? 'x86_64');
        candidates.push({ meta: cur, repo, priority });
        break;
      case 'arch':
        arch = rest[0];
        break;
      case 'installed':
        installed.push({ name: rest[0], version: rest[1], arch: rest[2] ?? 'x86_64', ...(rest[3] ? { repo: rest[3] } : {}) });
        break;
      case 'request':
        requests.push(tail);
        break;
      case 'upgrade':
        upgrade = rest.length ? rest : true;
        break;
      case 'remove':
        remove.push(...rest);
        break;
      case 'optional':
        optional = true;
        break;
      case 'autoremove':
        autoremove = true;
        break;
      case 'expect': {
        const [what, ...args] = rest;
        if (what === 'result' || what === 'install' || what === 'remove' || what === 'upgrade') expect[what] = args;
        else if (what === 'error') expect.error = { code: args[0], text: line.replace(/^expect\s+error\s+\S+\s*/, '') || undefined };
        else if (what === 'hint') expect.hint = line.replace(/^expect\s+hint\s+/, '');
        else fail(`unknown expectation "${what}"`);
        break;
      }
      default:
        fail(`unknown directive "${word}"`);
    }
  });
  return {
    name,
    description: comments[0] ?? name,
    request: {
      candidates, arch: arch as Arch, requests, installed,
      ...(optional ? { optional } : {}), ...(autoremove ? { autoremove } : {}),
      ...(upgrade ? { upgrade } : {}), ...(remove.length ? { remove } : {}),
    },
    expect,
  };
}

/** A deterministic permutation (mulberry32) for shuffling inputs. */
export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
