/**
 * Loads the yaml library. The bundler (tools/bundle.mjs) replaces this module
 * with one that calls the bundle's own `require('yaml')`, so the bundled CLI
 * evaluates yaml's code on first use instead of resolving and reading its
 * ~60 files; unbundled (dist/, tests) it is Node's require.
 */
import { createRequire } from 'node:module';

export function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}
