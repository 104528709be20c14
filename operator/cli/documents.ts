/**
 * Reads Kubernetes manifests for the CLI: files, folders (every .yaml, .yml and .json below them,
 * in name order), or stdin (`-`); multi-document YAML, JSON, and List objects (`kind: List` or any
 * `*List` with `items`), which are opened into their items. YAML is read line by line and parsed a
 * document at a time, so a file of 10,000 documents is never held whole. Every object carries its
 * source and the line its document starts on; a document that does not parse is reported with its
 * file and line instead of an object.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { load, YAMLException } from 'js-yaml';
import type { KubeObject } from '../engine/types';

export interface SourcedObject {
  object: KubeObject;
  /** The file, or `<stdin>`. */
  source: string;
  /** 1-based line the object's document starts on. */
  line: number;
  /** The document's text, to find a field's line in (not kept once the object is judged). */
  text?: string;
}

export interface ParseProblem {
  problem: string;
  source: string;
  line: number;
}

export type ReadItem = SourcedObject | ParseProblem;

const manifestExtensions = new Set(['.yaml', '.yml', '.json']);

/** The files a list of arguments names: folders walked in name order, `-` kept for stdin. */
export function expandSources(args: readonly string[]): string[] {
  return args.flatMap((arg) => {
    if (arg === '-') return ['-'];
    const stat = statSync(arg, { throwIfNoEntry: false });
    if (!stat) throw new Error(`${arg}: no such file or folder`);
    if (!stat.isDirectory()) return [arg];
    return readdirSync(arg, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((entry) => {
        const child = path.join(arg, entry.name);
        if (entry.isDirectory()) return expandSources([child]);
        return manifestExtensions.has(path.extname(entry.name).toLowerCase()) ? [child] : [];
      });
  });
}

/** Every object of the sources, in order, with parse problems where documents do not parse. */
export async function* readObjects(args: readonly string[], stdin: Readable = process.stdin): AsyncGenerator<ReadItem> {
  for (const file of expandSources(args)) {
    const source = file === '-' ? '<stdin>' : file;
    const stream = file === '-' ? stdin : createReadStream(file, { encoding: 'utf8' });
    for await (const document of splitDocuments(stream)) yield* parseDocument(document.text, source, document.line);
  }
}

/** YAML documents of a stream, split on `---` and `...` lines, with the line each starts on. */
export async function* splitDocuments(stream: Readable): AsyncGenerator<{ text: string; line: number }> {
  let lines: string[] = [];
  let start = 1;
  let lineNumber = 0;
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    lineNumber++;
    if (/^---(\s|$)/.test(line) || /^\.\.\.\s*$/.test(line)) {
      if (lines.some((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))) yield { text: lines.join('\n'), line: start };
      // Content after `--- ` on the same line belongs to the next document.
      const rest = line.startsWith('---') ? line.slice(3).trim() : '';
      lines = rest ? [rest] : [];
      start = rest ? lineNumber : lineNumber + 1;
      continue;
    }
    lines.push(line);
  }
  if (lines.some((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))) yield { text: lines.join('\n'), line: start };
}

/** One document's objects (a List opened into its items), or the problem with its line. */
export function parseDocument(text: string, source: string, line: number): ReadItem[] {
  let parsed: unknown;
  try {
    // JSON is YAML; the JSON schema keeps `yes`, `on` and dates as strings, as the API server does.
    parsed = load(text, { filename: source, json: true });
  } catch (err) {
    const at = err instanceof YAMLException ? line + err.mark.line : line;
    const reason = err instanceof YAMLException ? err.reason : err instanceof Error ? err.message : String(err);
    return [{ problem: `does not parse: ${reason}`, source, line: at }];
  }
  if (parsed === null || parsed === undefined) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return [{ problem: 'is not a Kubernetes object (a mapping with apiVersion and kind)', source, line }];
  const object = parsed as KubeObject & { items?: unknown };
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.flatMap((item): ReadItem[] => (isObject(item) ? [{ object: item, source, line }] : [{ problem: 'has a List item that is not an object', source, line }]));
  }
  if (typeof object.kind !== 'string' || typeof object.apiVersion !== 'string') return [{ problem: 'has no apiVersion and kind', source, line }];
  return [{ object, source, line, text }];
}

function isObject(value: unknown): value is KubeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isProblem(item: ReadItem): item is ParseProblem {
  return 'problem' in item;
}
