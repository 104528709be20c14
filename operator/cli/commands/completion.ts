/**
 * `securestack completion bash|zsh|fish`: scripts in the manner of kubectl's (cobra's). The script
 * asks the command itself what to offer (`securestack __complete WORDS... CURRENT`), so commands,
 * flags, flag values and rule ids come from the same declarations as parsing and --help.
 */
import { allFlags, exitCodes, UsageError, type Command, type Flag } from '../command';
import { commands, findCommand, groups } from '../registry';

/** What the shell should do besides offering the candidates. */
export type Directive = 'files' | 'nofiles';

export interface Completion {
  /** "word" or "word\tdescription". */
  candidates: string[];
  directive: Directive;
}

const shells = ['bash', 'zsh', 'fish'] as const;

function flagNamed(flags: readonly Flag[], word: string): Flag | undefined {
  if (word.startsWith('--')) return flags.find((flag) => flag.long === word.slice(2));
  if (/^-[A-Za-z]$/.test(word)) return flags.find((flag) => flag.short === word.slice(1));
  return undefined;
}

function valuesOf(flag: Flag, current: string, prefix = ''): Completion {
  if (flag.choices) return { candidates: flag.choices.filter((choice) => choice.startsWith(current)).map((choice) => `${prefix}${choice}`), directive: 'nofiles' };
  return { candidates: [], directive: flag.files ? 'files' : 'nofiles' };
}

function completeCommand(command: Command, words: readonly string[], current: string): Completion {
  const flags = allFlags(command);
  // bash splits "--output=js" into "--output", "=", "js".
  const previous = words.at(-1) ?? '';
  if (current === '=' && flagNamed(flags, previous)?.type === 'string') return valuesOf(flagNamed(flags, previous) as Flag, '');
  if (previous === '=' && flagNamed(flags, words.at(-2) ?? '')?.type === 'string') return valuesOf(flagNamed(flags, words.at(-2) ?? '') as Flag, current);
  const previousFlag = flagNamed(flags, previous);
  if (previousFlag?.type === 'string') return valuesOf(previousFlag, current);
  const inline = /^(--[^=]+)=(.*)$/.exec(current);
  if (inline) {
    const flag = flagNamed(flags, inline[1] ?? '');
    return flag?.type === 'string' ? valuesOf(flag, inline[2] ?? '', `${inline[1] ?? ''}=`) : { candidates: [], directive: 'nofiles' };
  }
  if (current.startsWith('-')) {
    return { candidates: flags.map((flag) => `--${flag.long}\t${flag.help.split('\n')[0] ?? ''}`).filter((c) => c.startsWith(current)), directive: 'nofiles' };
  }
  if (command.completeArgs === 'files') return { candidates: [], directive: 'files' };
  if (command.completeArgs) return { candidates: command.completeArgs().filter((word) => word.startsWith(current)), directive: 'nofiles' };
  return { candidates: [], directive: 'nofiles' };
}

/** The candidates for `current`, after the words before it (without "securestack"). */
export async function complete(words: readonly string[], current: string): Promise<Completion> {
  const found = findCommand(words);
  if (found) return completeCommand(await found.entry.load(), found.rest, current);
  const byPrefix = (candidates: string[]): Completion => ({ candidates: candidates.filter((c) => c.startsWith(current)), directive: 'nofiles' });
  if (words.length === 0) {
    const firstWords = new Map<string, string>();
    for (const entry of commands) {
      const [first = ''] = entry.name.split(' ');
      const group = groups().get(first);
      if (!firstWords.has(first)) firstWords.set(first, group ? `${group.length} commands: ${group.map((e) => e.name.split(' ')[1] ?? '').join(', ')}` : entry.summary);
    }
    firstWords.set('help', 'Help about any command');
    return byPrefix([...firstWords].map(([word, summary]) => `${word}\t${summary}`));
  }
  if (words[0] === 'help') return complete(words.slice(1), current);
  const members = words.length === 1 ? groups().get(words[0] ?? '') : undefined;
  return byPrefix((members ?? []).map((entry) => `${entry.name.split(' ')[1] ?? ''}\t${entry.summary}`));
}

const bash = `# bash completion for securestack                         -*- shell-script -*-
# Load it with:  source <(securestack completion bash)
_securestack() {
    local cur="\${COMP_WORDS[COMP_CWORD]}" out directive line
    local -a candidates=()
    out=$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
    directive="\${out##*$'\\n'}"
    while IFS= read -r line; do
        [[ -z $line || $line == :* ]] && continue
        candidates+=("\${line%%$'\\t'*}")
    done <<< "$out"
    [[ $cur == = ]] && cur=""
    COMPREPLY=()
    local candidate
    for candidate in "\${candidates[@]}"; do
        [[ $candidate == "$cur"* ]] && COMPREPLY+=("$candidate")
    done
    if [[ $directive == :files ]]; then
        compopt -o filenames 2>/dev/null
        local IFS=$'\\n'
        COMPREPLY+=($(compgen -f -- "$cur"))
    fi
}
complete -F _securestack securestack
`;

const zsh = `#compdef securestack
# zsh completion for securestack. Load it with:  source <(securestack completion zsh)
_securestack() {
    local -a lines candidates
    local directive line
    lines=("\${(@f)$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
    directive=\${lines[-1]}
    for line in "\${(@)lines[1,-2]}"; do
        candidates+=("\${line/$'\\t'/:}")
    done
    (( \${#candidates} )) && _describe 'securestack' candidates
    [[ $directive == :files ]] && _files
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _securestack "$@"; else compdef _securestack securestack; fi
`;

const fish = `# fish completion for securestack. Load it with:  securestack completion fish | source
function __securestack_complete
    set -l words (commandline -opc)[2..-1]
    set -l out (securestack __complete $words (commandline -ct) 2>/dev/null)
    for line in $out[1..-2]
        echo $line
    end
    if test "$out[-1]" = ":files"
        __fish_complete_path (commandline -ct)
    end
end
complete -c securestack -f -a '(__securestack_complete)'
`;

export const completionCommand: Command = {
  name: 'completion',
  summary: 'Output shell completion code for bash, zsh or fish',
  description: `Output shell completion code for the specified shell (bash, zsh or fish).

 The code must be evaluated to provide interactive completion of securestack commands, flags, flag
values and rule ids. It asks securestack itself, so it follows the installed version.`,
  usage: 'securestack completion SHELL [options]',
  examples: [
    ['Load completion into the current bash shell', 'source <(securestack completion bash)'],
    ['Install it for every bash session', 'securestack completion bash > ~/.local/share/bash-completion/completions/securestack'],
    ['Load completion into the current zsh shell', 'source <(securestack completion zsh)'],
    ['Load completion into the current fish shell', 'securestack completion fish | source'],
  ],
  flags: [],
  completeArgs: () => shells,
  run(parsed) {
    const [shell, ...extra] = parsed.positionals;
    if (!shell || extra.length > 0) throw new UsageError(`name one shell: ${shells.join(', ')}`);
    const scripts: Record<(typeof shells)[number], string> = { bash, zsh, fish };
    if (!(shells as readonly string[]).includes(shell)) throw new UsageError(`unsupported shell "${shell}": expected ${shells.join(', ')}`);
    process.stdout.write(scripts[shell as (typeof shells)[number]]);
    return Promise.resolve(exitCodes.clean);
  },
};

/** `securestack __complete WORDS... CURRENT`: candidates one per line, then ":files" or ":nofiles". */
export async function completeCommandLine(argv: readonly string[]): Promise<number> {
  const words = argv.slice(0, -1);
  const current = argv.at(-1) ?? '';
  const { candidates, directive } = await complete(words, current);
  process.stdout.write(`${[...candidates, `:${directive}`].join('\n')}\n`);
  return exitCodes.clean;
}
