#!/usr/bin/env node
// man/minos.1 from the command tree --help is made from (src/cli/manual.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram, EXIT_HELP } from '../dist/cli/main.js';
import { manPage } from '../dist/cli/manual.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const program = buildProgram({ out() {}, err() {}, version });
mkdirSync(join(ROOT, 'man'), { recursive: true });
writeFileSync(join(ROOT, 'man/minos.1'), manPage(program, version, EXIT_HELP));
