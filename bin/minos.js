#!/usr/bin/env node
// Starts the CLI: the bundle `make build` makes (dist/bundle/minos.cjs, run
// through its code cache: see load.cjs), else the plain tsc output.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import loader from './load.cjs';

const { main } = existsSync(join(loader.BUNDLE, 'minos.cjs')) ? loader.load('minos.cjs') : await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
