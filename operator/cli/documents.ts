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
import { Worker } from 'node:worker_threads';
import { load, YAMLException } from 'js-yaml';
import type { KubeObject } from '../engine/types';
import type { ParseMessage, ParseRequest } from './parse-worker';

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

/**
 * Files from this size on are parsed in a worker thread (parse-worker.ts) while the caller judges
 * what is already parsed: about 0.5 s saved on 14 MB (10,000 manifests). Below it the worker's
 * start-up (tens of milliseconds) would cost more than it saves.
 */
const workerBytes = 2 * 1024 * 1024;

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
    if (file !== '-' && statSync(file).size >= workerBytes) {
      yield* readInWorker(file, source);
      continue;
    }
    const stream = file === '-' ? stdin : createReadStream(file, { encoding: 'utf8' });
    for await (const document of splitDocuments(stream)) yield* parseDocument(document.text, source, document.line);
  }
}

/** The objects of one file, parsed by a worker thread, in order. */
async function* readInWorker(file: string, source: string): AsyncGenerator<ReadItem> {
  // Imported for its types only: the worker module runs its own main when loaded as a worker.
  const worker = new Worker(path.join(__dirname, 'parse-worker.js'), { workerData: { file, source } satisfies ParseRequest });
  const messages: ParseMessage[] = [];
  let arrived: (() => void) | undefined;
  const push = (message: ParseMessage): void => {
    messages.push(message);
    arrived?.();
  };
  worker.on('message', push);
  worker.on('error', (err) => push({ error: err.message }));
  worker.on('exit', (code) => push({ error: `the parser thread stopped (exit code ${code})` }));
  try {
    for (;;) {
      while (messages.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
      const message = messages.shift() as ParseMessage;
      if ('error' in message) throw new Error(`${source}: ${message.error}`);
      if ('done' in message) return;
      // Acknowledged before its objects are judged, so the worker parses the next batch meanwhile.
      worker.postMessage('ack');
      yield* message.items;
    }
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
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
