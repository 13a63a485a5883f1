/**
 * The `minos` command: a thin shell over the library. Commands turn their
 * arguments into library calls and render results; every failure is a
 * MinosError rendered as one line, with its exit status.
 */
import { Command, CommanderError } from 'commander';
import { CODES, EXIT, ioError, isErrnoError, isMinosError, MinosError } from '../errors.js';
import { registerKey } from './key.js';
import { registerBuild } from './build.js';
import { registerBoot } from './boot.js';
import { registerImport } from './import.js';
import { registerPack } from './pack.js';
import { registerPlan } from './plan.js';
import { registerRepo } from './repo.js';
import { onEvent, registerLive } from './live.js';
import { registerQueries } from './query.js';
import { registerDiff } from './diff.js';
import { registerRecover } from './recover.js';
import { escapeControls, escapedIo, type Io } from './io.js';
import { completionScript, SHELLS, type Shell } from './manual.js';

export const EXIT_HELP = `
Exit status:
  0  success
  1  other error
  2  usage error or invalid input file (YAML, recipe, key, malformed package)
  3  dependencies cannot be satisfied, or no such package
  4  verification failed (signature, hash, size, untrusted key, expired or rolled-back index)
  5  another minos holds the lock
  6  file conflict between packages or with unowned files`;

/**
 * The top-level commands each register function adds. A run registers only
 * the group its command word names (commander builds every option of every
 * command it is given, ~2 ms of each start-up); test/cli.test.ts checks the
 * table against the functions.
 */
export const GROUPS: readonly (readonly [readonly string[], (program: Command, io: Io) => void])[] = [
  [['key'], registerKey],
  [['pack', 'inspect', 'verify'], registerPack],
  [['import'], registerImport],
  [['repo'], registerRepo],
  [['plan'], registerPlan],
  [['build'], registerBuild],
  [['boot'], registerBoot],
  [['init', 'install', 'remove', 'upgrade', 'rollback', 'cache'], registerLive],
  [['why', 'list', 'info', 'search', 'files', 'owner', 'history'], registerQueries],
  [['diff'], registerDiff],
  [['recover'], (program, io) => registerRecover(program, io, onEvent)],
];

/**
 * The groups `argv` can reach: the group of its command word; none when it
 * has no command word but asks for the version (commander answers that
 * before any command); every group otherwise (help, completion, an unknown
 * word or option: messages list or suggest every command).
 */
export function groupsFor(argv: readonly string[] | undefined): (typeof GROUPS)[number][] {
  if (argv === undefined) return [...GROUPS];
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root') i++;
    else if (a.startsWith('--root=')) continue;
    else if (a === '-V' || a === '--version') version = true;
    else if (a.startsWith('-')) return [...GROUPS];
    else {
      const group = GROUPS.find(([names]) => names.includes(a));
      return group ? [group] : [...GROUPS];
    }
  }
  return version ? [] : [...GROUPS];
}

/**
 * `usageError`: where commander's own messages (unknown option, missing
 * argument) go; default raw.err. `argv`: the arguments the program will
 * parse, to register only the commands they can reach (see groupsFor);
 * default every command.
 */
export function buildProgram(raw: Io, usageError: (s: string) => void = raw.err, argv?: readonly string[]): Command {
  // Commands print package data: every line they print is escaped. Help and
  // usage text is ours and goes out as it is.
  const io = escapedIo(raw);
  const program = new Command('minos')
    .description('package manager and offline root-image builder for MinOS')
    .version(io.version, '-V, --version')
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => raw.out(s.replace(/\n$/, '')),
      writeErr: (s) => usageError(s.replace(/\n$/, '')),
    })
    .option('--root <dir>', 'the root the live commands act on', '/')
    .addHelpText('after', EXIT_HELP)
    .exitOverride();
  for (const [, register] of groupsFor(argv)) register(program, io);
  program
    .command('completion')
    .description('print a shell completion script (bash: eval "$(minos completion bash)")')
    .argument('<shell>', SHELLS.join(', '))
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new MinosError('MN0002', `completion ${shell}: expected ${SHELLS.join(', ')}`);
      raw.out(completionScript(program, shell as Shell).replace(/\n$/, ''));
    });
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/** Render an error as one line: `minos: MESSAGE [CODE] (hint: …)`. */
export function renderError(e: MinosError): string {
  const line = `minos: ${e.message} [${e.code}]${e.hint ? ` (hint: ${e.hint})` : ''}`;
  return line.replace(/[\r\n]+/g, ' ');
}

/** Run the CLI with `argv` (without node and script); resolves to the exit status. */
/** The error object `--json` commands print on stderr instead of the one-line message. */
export function errorJson(code: string, exit: number, message: string, hint?: string): string {
  return JSON.stringify({ error: { code, exit, message, ...(hint ? { hint } : {}) } });
}

/** Run the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[], io?: Io): Promise<number> {
  const { stdio } = await import('./io.js');
  const sink = io ?? stdio();
  // Under --json, errors are a JSON object on stderr (docs/JSON.md), usage errors included.
  const json = argv.includes('--json');
  const usage: string[] = [];
  const program = buildProgram(sink, json ? (s) => usage.push(s) : sink.err, argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      if (json) sink.err(errorJson('MN0002', EXIT.usage, usage.join(' ').replace(/^error: /, '').replace(/\s+/g, ' ').trim() || e.message));
      return EXIT.usage;
    }
    // An OS error that no stage wrapped still names its path and errno.
    const typed = isMinosError(e) ? e : isErrnoError(e) ? ioError(e, e.path ?? e.syscall ?? 'system call') : undefined;
    if (typed) {
      sink.err(json ? escapeControls(errorJson(typed.code, typed.exit, typed.message, typed.hint)) : escapeControls(renderError(typed)));
      return typed.exit;
    }
    const err = e as Error;
    if (json) sink.err(errorJson('MN0001', CODES.MN0001[0], `internal error: ${err?.message ?? String(e)}`));
    else sink.err(escapeControls(`minos: internal error: ${err?.stack ?? String(e)} [MN0001]`, true));
    return CODES.MN0001[0];
  }
}
