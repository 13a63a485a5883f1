#!/usr/bin/env node
// The bundle (dist/bundle/, made by `make build`) starts faster; the plain
// tsc output is the fallback when only `tsc` has run.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/minos.js', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
