/**
 * The manual page and shell completions, both made from the same command
 * tree as --help (buildProgram), so none of them can drift from the others.
 */
import type { Command, Option } from 'commander';

interface Cmd {
  path: string[];
  cmd: Command;
}

/** Every command and subcommand, depth first, in definition order. */
function walk(program: Command): Cmd[] {
  const out: Cmd[] = [];
  const visit = (c: Command, path: string[]) => {
    for (const s of c.commands) {
      out.push({ path: [...path, s.name()], cmd: s });
      visit(s, [...path, s.name()]);
    }
  };
  visit(program, []);
  return out;
}

function usageOf(c: Cmd): string {
  const args = c.cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
  return [...c.path, c.cmd.options.length ? '[options]' : '', ...args].filter(Boolean).join(' ');
}

/** roff-escape a line of text. */
function roff(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1').replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

const option = (o: Option) => `.TP\n.B ${roff(o.flags)}\n${roff(o.description)}${o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean' && !(Array.isArray(o.defaultValue) && !o.defaultValue.length) ? ` (default: ${roff(String(o.defaultValue))})` : ''}\n`;

/** minos(1) in man(7) format. `exitHelp` is the "Exit status" text of --help. */
export function manPage(program: Command, version: string, exitHelp: string): string {
  const lines = [
    `.TH MINOS 1 "" "minos ${version}" "User Commands"`,
    '.SH NAME',
    `minos \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    '.B minos',
    '[\\fB\\-\\-root\\fR \\fIDIR\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]',
    '.SH GLOBAL OPTIONS',
    ...program.options.map(option),
    '.SH COMMANDS',
  ];
  for (const c of walk(program)) {
    if (c.cmd.commands.length) continue; // a group: its subcommands follow
    lines.push(`.SS ${roff(usageOf(c))}`, roff(c.cmd.description()).replace(/\n/g, '\n.br\n'));
    for (const a of c.cmd.registeredArguments) if (a.description) lines.push(`.TP\n.I ${roff(a.name())}\n${roff(a.description)}`);
    for (const o of c.cmd.options) lines.push(option(o).trimEnd());
  }
  lines.push('.SH EXIT STATUS', '.nf', roff(exitHelp.replace(/^\s*Exit status:\s*\n/, '')), '.fi',
    '.SH FILES', 'Docs: docs/IMAGES.md, docs/LIVE.md, docs/FORMAT.md, docs/DEBIAN.md in the package.',
    '.SH SEE ALSO', 'mmdebstrap(1), apt(8), dpkg(1)', '');
  return lines.join('\n');
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** A completion script for `shell`: command words, subcommands and option names. */
export function completionScript(program: Command, shell: Shell): string {
  const cmds = walk(program);
  const top = program.commands.map((c) => c.name());
  const longs = (c: Command) => c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x));
  if (shell === 'fish') {
    const out = ['# fish completion for minos (minos completion fish > ~/.config/fish/completions/minos.fish)', 'complete -c minos -f'];
    out.push(`complete -c minos -n '__fish_use_subcommand' -a '${top.join(' ')}'`);
    for (const c of cmds) {
      const cond = c.path.length === 1 ? `__fish_seen_subcommand_from ${c.path[0]}` : `__fish_seen_subcommand_from ${c.path[0]}; and __fish_seen_subcommand_from ${c.path[1]}`;
      if (c.cmd.commands.length) out.push(`complete -c minos -n '${cond}' -a '${c.cmd.commands.map((s) => s.name()).join(' ')}'`);
      for (const o of c.cmd.options) if (o.long) out.push(`complete -c minos -n '${cond}' -l ${o.long.slice(2)}${o.required || o.optional ? ' -r -F' : ''}`);
    }
    return `${out.join('\n')}\n`;
  }
  // bash and zsh (through bashcompinit): complete by the words typed so far.
  const cases = cmds.map((c) => {
    const words = [...(c.cmd.commands.map((s) => s.name())), ...longs(c.cmd)];
    return `    "${c.path.join(' ')}") words="${words.join(' ')}" ;;`;
  });
  const body = [
    '_minos() {',
    '  local cur path="" w i words',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    w="${COMP_WORDS[i]}"',
    '    case "$w" in --root) ((i++)); continue ;; -*) continue ;; esac',
    '    case "${path:+$path }$w" in',
    ...cmds.map((c) => `      "${c.path.join(' ')}") path="${c.path.join(' ')}" ;;`),
    '    esac',
    '  done',
    '  case "$path" in',
    `    "") words="${[...top, '--root', '--version', '--help'].join(' ')}" ;;`,
    ...cases,
    '  esac',
    '  if [[ "$cur" == -* || -n "$words" ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); fi',
    '  [[ ${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))',
    '}',
    'complete -o filenames -F _minos minos',
  ];
  const head = shell === 'zsh'
    ? ['#compdef minos', '# zsh completion for minos (minos completion zsh > "${fpath[1]}/_minos")', 'autoload -U +X bashcompinit && bashcompinit']
    : ['# bash completion for minos (minos completion bash > /etc/bash_completion.d/minos, or eval "$(minos completion bash)")'];
  return `${[...head, ...body].join('\n')}\n`;
}
