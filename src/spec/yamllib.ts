/**
 * Loads the yaml library. The bundler (tools/bundle.mjs) replaces this module
 * in dist/bundle/minos.cjs with one that loads dist/bundle/yaml.cjs, yaml in
 * one file, instead of resolving and reading its ~60 files from
 * node_modules; unbundled (dist/, tests) it is Node's require of 'yaml'.
 */
import { createRequire } from 'node:module';

export function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}
