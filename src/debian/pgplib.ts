/**
 * Loads OpenPGP.js on first use (only Debian sources need it). The bundler
 * (tools/bundle.mjs) replaces this module in dist/bundle/minos.cjs with one
 * that loads dist/bundle/openpgp.cjs: inside minos.cjs its module setup
 * (cipher tables) cost every command, `--version` included, ~15 ms.
 */
import { createRequire } from 'node:module';

export type OpenPGP = typeof import('openpgp');

export function loadOpenpgp(): OpenPGP {
  return createRequire(import.meta.url)('openpgp') as OpenPGP;
}
