// pacman with SigLevel = Required, for the benches that compare minos's
// verified builds and installs with a peer that verifies too.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * pacman's configuration with `SigLevel = Required` for `pkgs`: a throwaway
 * gpg key (its own homedir under `work`, where it is ultimately trusted)
 * signs each package (P.sig beside it, as pacman looks for it). Returns the
 * configuration's path, or undefined without gpg.
 */
export function requiredConf(work, pkgs) {
  if (spawnSync('gpg', ['--version']).error) return undefined;
  const home = join(work, 'gnupg');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { mode: 0o700 });
  const gpg = (...args) => {
    const r = spawnSync('gpg', ['--batch', '--quiet', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  };
  gpg('--quick-gen-key', 'minos bench <bench@invalid>', 'ed25519', 'sign', 'never');
  for (const p of pkgs) {
    rmSync(`${p}.sig`, { force: true });
    gpg('--detach-sign', '--no-armor', '-o', `${p}.sig`, p);
  }
  spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
  const conf = join(work, 'pacman-required.conf');
  writeFileSync(conf, `[options]\nArchitecture = x86_64\nSigLevel = Required\nLocalFileSigLevel = Required\nGPGDir = ${home}\n`);
  return conf;
}

/**
 * pacman's options for `conf` acting on `root` alone (its database, cache,
 * log and hooks inside it); makes the database folder pacman needs.
 */
export function pacmanArgs(conf, root) {
  mkdirSync(join(root, 'var/lib/pacman'), { recursive: true });
  return ['--config', conf, '--noconfirm', '--noprogressbar', '-r', root, '--dbpath', join(root, 'var/lib/pacman'),
    '--cachedir', join(root, 'var/cache/pacman/pkg'), '--logfile', join(root, 'pacman.log'), '--hookdir', join(root, 'hooks')];
}
