#!/usr/bin/env node
// Starts the CLI: the bundle `make build` makes (dist/bundle/minos.cjs, run
// through its code cache: see load.cjs), else the plain tsc output. This file
// is CommonJS (bin/package.json): an ES module entry costs every run Node's
// ESM loader, ~10 ms.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const loader = require('./load.cjs');

const cli = existsSync(join(loader.BUNDLE, 'minos.cjs')) ? Promise.resolve(loader.load('minos.cjs')) : import('../dist/cli/main.js');
cli.then(({ main }) => main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
