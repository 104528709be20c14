// Patterns that come from users (ScanPolicy custom rules, exception and match globs, registry
// credential keys) are matched in the admission path, whose event loop answers every review. A
// backtracking engine can take exponential time on one crafted pattern (`^(a+)+$` against forty
// `a`s and a `b` blocked a replica for minutes), and no deadline can interrupt a synchronous match.
// So user patterns never reach V8's RegExp: regular expressions run on RE2's automaton (linear in
// the input), and globs on a two-pointer matcher (at most pattern x input steps).
import { RE2JS } from 're2js';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types';

/** A pattern the linear-time engine cannot compile (lookaround, backreferences, bad syntax). */
export class UnsupportedPatternError extends Error {}

/**
 * Compiles a regular expression for the linear-time engine (RE2 syntax: no lookaround, no
 * backreferences). Throws UnsupportedPatternError naming the pattern and what is wrong with it.
 */
export function compileLinearRegExp(pattern: string): RegExpLike & { toString(): string } {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnsupportedPatternError(`pattern ${JSON.stringify(pattern)} cannot run in linear time (RE2 syntax, no lookaround or backreferences): ${reason}`);
  }
  // RE2JS.test finds a match anywhere in the input, as RegExp.prototype.test does (and JSON Schema's
  // `pattern`, which is not anchored).
  return { test: (input: string) => compiled.test(input), toString: () => `re2:${pattern}` };
}

/**
 * The regular-expression engine for ajv (`code.regExp`): every `pattern` and `patternProperties`
 * of a schema runs on RE2. ajv passes "u" (unicode) as the flag; RE2 always matches Unicode.
 */
export const linearRegExpEngine: RegExpEngine = Object.assign((pattern: string) => compileLinearRegExp(pattern), {
  // Only read when ajv generates standalone code, which this project never does.
  code: 'require("re2js").RE2JS.compile',
});

/**
 * `*` globs (`team-*`, `*.example.com`, `registry.example.com/*`): `*` stands for any run of
 * characters, everything else for itself. Greedy two-pointer matching with one backtrack point
 * (the last `*`), so the cost is bounded by pattern length x input length whatever the pattern.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let starAt = -1; // index in pattern of the last `*` seen
  let resumeAt = 0; // where in value that `*` would next resume
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starAt = p++;
      resumeAt = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (starAt !== -1) {
      p = starAt + 1;
      v = ++resumeAt;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A matcher true when any of the globs matches. */
export function wildcardMatcher(patterns: readonly string[]): (value: string) => boolean {
  const list = [...patterns];
  return (value) => list.some((pattern) => wildcardMatch(pattern, value));
}
