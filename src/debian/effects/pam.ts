/**
 * `pam-auth-update --package --force` on a root that has never run it:
 * every profile in /usr/share/pam-configs with "Default: yes" is enabled,
 * sorted by Priority then name (both descending), and each
 * /etc/pam.d/common-TYPE is the template from /usr/share/pam with the
 * Primary and Additional blocks filled in, jumps counted as the script
 * counts them. /var/lib/pam keeps the same state files the script writes.
 */
import type { FsIndex } from './fsindex.js';
import type { EffectOp } from './types.js';

type Profile = Map<string, string>;

const TYPES = ['auth', 'account', 'password', 'session', 'session-noninteractive'] as const;
const enc = new TextEncoder();

function parseProfile(text: string): Profile {
  const p: Profile = new Map();
  let field = '';
  for (const raw of text.split('\n')) {
    const m = /^(\S+):(?:\s+(.*?))?\s*$/.exec(raw);
    if (m) {
      field = m[1].replace(/-Final$/, '');
      p.set(field, m[2] ?? '');
      continue;
    }
    const line = raw.trim();
    if (line) p.set(field, `${p.get(field) ?? ''}\n${line}`.replace(/^[\n\s]+/, ''));
  }
  if (!p.has('Session-Interactive-Only')) {
    for (const s of ['-Type', '', '-Initial']) {
      const v = p.get(`Session${s}`);
      if (v !== undefined) p.set(`Session-noninteractive${s}`, v);
    }
  }
  return p;
}

function linesFor(p: Profile, uc: string, pos: number): string {
  return (pos === 0 && p.get(`${uc}-Initial`)) || p.get(uc) || '';
}

function mergeLine(line: string, count: number): string {
  const m = /^((\[[^\]]+\]|\w+)\s+\S+)\s*(.*)/.exec(line);
  if (!m) return `${line}\n`;
  const opts = m[3].split(/\s+/).filter((o, i) => o !== '' || i > 0);
  return `${m[1].replace(/end/g, String(count))} ${opts.join(' ')}\n`;
}

export function pamOps(ix: FsIndex): EffectOp[] {
  const dir = ix.resolve('/usr/share/pam-configs');
  const profiles = new Map<string, Profile>();
  for (const n of ix.children(dir)) {
    const b = ix.read(ix.resolve(`${dir}/${n}`));
    if (b) profiles.set(n, parseProfile(Buffer.from(b).toString('utf8')));
  }
  const prio = (n: string) => Number(profiles.get(n)!.get('Priority') ?? 0) || 0;
  const sorted = [...profiles.keys()].sort((a, b) => prio(b) - prio(a) || (b < a ? -1 : b > a ? 1 : 0));
  const enabled = sorted.filter((n) => profiles.get(n)!.get('Default') === 'yes');
  const ops: EffectOp[] = [];
  const file = (path: string, text: string) => ops.push({ op: 'file', path, data: enc.encode(text), mode: 0o644, uid: 0, gid: 0 });
  for (const type of TYPES) {
    const tpl = ix.read(ix.resolve(`/usr/share/pam/common-${type}`));
    if (!tpl) return [];
    const uc = type[0].toUpperCase() + type.slice(1);
    const bare = type.replace(/-noninteractive/, '');
    const block = (val: string) => enabled.filter((m) => profiles.get(m)!.get(`${uc}-Type`) === val);
    let out = '';
    let state = 0;
    for (const line of Buffer.from(tpl).toString('utf8').split(/(?<=\n)/)) {
      if (state === 1 || state === 3) {
        if (line.startsWith(state === 1 ? "# here's the fallback if no module succeeds" : '# end of pam-auth-update config')) { out += line; state++; }
        continue;
      }
      out += line;
      const marker = state === 0 ? '# here are the per-package modules (the "Primary" block)' : state === 2 ? '# and here are more per-package modules (the "Additional" block)' : undefined;
      if (!marker || !line.startsWith(marker)) continue;
      const val = state === 0 ? 'Primary' : 'Additional';
      const mods = block(val);
      let count = mods.reduce((n, m, i) => n + linesFor(profiles.get(m)!, uc, i).split(/\n+/).filter(Boolean).length, 0);
      if (val === 'Additional') count--;
      if (val === 'Primary' && count === 0) out += `${bare}\t[default=1]\t\t\tpam_permit.so\n`;
      mods.forEach((m, i) => {
        for (const l of linesFor(profiles.get(m)!, uc, i).split('\n')) {
          out += `${bare}\t${mergeLine(l, count)}`;
          count--;
        }
      });
      state++;
    }
    file(`/etc/pam.d/common-${type}`, out);
    let st = '';
    const prim = block('Primary');
    prim.forEach((m, i) => { const o = linesFor(profiles.get(m)!, uc, i); if (o) st += `Module: ${m}\n${o}\n`; });
    if (prim.length === 0) st += 'Module: null\n[default=1]\t\t\tpam_permit.so\n';
    block('Additional').forEach((m, i) => { const o = linesFor(profiles.get(m)!, uc, i); if (o) st += `Module: ${m}\n${o}\n`; });
    file(`/var/lib/pam/${type}`, st);
  }
  file('/var/lib/pam/seen', sorted.map((n) => `${n}\n`).join(''));
  return ops;
}
