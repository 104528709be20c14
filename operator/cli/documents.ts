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
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Worker } from 'node:worker_threads';
import * as jsYaml from 'js-yaml';
import { CORE_SCHEMA, load, YAMLException, type Type } from 'js-yaml';
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

/** Whether some line of a document's text has something besides blanks and a comment. */
const hasContent = /(?:^|\n)\s*[^\s#]/;

/**
 * YAML documents of a stream, split on `---` and `...` lines, with the line each starts on. Line
 * breaks are those of readline (`\n`, `\r\n`, a lone `\r`), read as `\n`. Each document is cut out
 * of the text read in one slice rather than gathered line by line: line strings and their joining
 * were a tenth of the parser thread's time on 10,000 manifests.
 */
export async function* splitDocuments(stream: Readable): AsyncGenerator<{ text: string; line: number }> {
  const decoder = new StringDecoder('utf8');
  // What is read and not yet handed out: the current document's lines, then a partial line.
  let buffer = '';
  let scanFrom = 0;
  // The current document: its lines in the buffer from bodyStart up to bodyEnd, after `head`, the
  // content of a `--- content` line that opened it.
  let bodyStart = 0;
  let bodyEnd = 0;
  let bodyLines = 0;
  let head: string | undefined;
  let start = 1;
  let lineNumber = 0;
  // A chunk ended in `\r`: a `\n` opening the next one belongs to the same line break.
  let carriageReturn = false;

  const documentText = (): string | undefined => {
    const body = bodyLines > 0 ? buffer.slice(bodyStart, bodyEnd) : undefined;
    const text = head === undefined ? (body ?? '') : body === undefined ? head : `${head}\n${body}`;
    return hasContent.test(text) ? text : undefined;
  };
  // Reads the line [from, to) of the buffer: a separator closes the document (returned if it has content).
  const line = (from: number, to: number): { text: string; line: number } | undefined => {
    lineNumber++;
    const first = buffer.charCodeAt(from);
    const separator =
      (first === 45 /* - */ && buffer.startsWith('---', from) && (to - from === 3 || /\s/.test(buffer.charAt(from + 3)))) ||
      (first === 46 /* . */ && /^\.\.\.\s*$/.test(buffer.slice(from, to)));
    if (!separator) {
      if (bodyLines === 0) bodyStart = from;
      bodyLines++;
      bodyEnd = to;
      return undefined;
    }
    const text = documentText();
    const document = text === undefined ? undefined : { text, line: start };
    // Content after `--- ` on the same line belongs to the next document.
    const rest = first === 45 ? buffer.slice(from + 3, to).trim() : '';
    head = rest || undefined;
    start = rest ? lineNumber : lineNumber + 1;
    bodyLines = 0;
    bodyStart = bodyEnd = to + 1;
    return document;
  };

  for await (const chunk of stream as AsyncIterable<string | Buffer>) {
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text === '') continue;
    if (carriageReturn && text.charCodeAt(0) === 10) text = text.slice(1);
    carriageReturn = text.charCodeAt(text.length - 1) === 13;
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    buffer += text;
    for (let end = buffer.indexOf('\n', scanFrom); end >= 0; end = buffer.indexOf('\n', scanFrom)) {
      const document = line(scanFrom, end);
      scanFrom = end + 1;
      if (document) yield document;
    }
    // Keep only the current document and the partial line.
    const keep = bodyLines > 0 ? Math.min(bodyStart, scanFrom) : scanFrom;
    if (keep > 0) {
      buffer = buffer.slice(keep);
      scanFrom -= keep;
      bodyStart -= keep;
      bodyEnd -= keep;
    }
  }
  const rest = decoder.end();
  if (rest !== '') buffer += carriageReturn && rest.charCodeAt(0) === 10 ? rest.slice(1).replace(/\r\n?/g, '\n') : rest.replace(/\r\n?/g, '\n');
  // The last line, when the stream does not end with a line break.
  if (scanFrom < buffer.length) {
    const document = line(scanFrom, buffer.length);
    if (document) yield document;
  }
  const text = documentText();
  if (text !== undefined) yield { text, line: start };
}

/**
 * YAML as kubectl reads it into JSON (sigs.k8s.io/yaml): unquoted dates stay strings (js-yaml's
 * default schema would make them Date objects, which a ScanPolicy's `expiresAt` or an annotation
 * is not), and merge keys (`<<: *anchor`) are merged. `yes` and `on` stay strings, as in YAML 1.2.
 */
// js-yaml 4 exports its types at run time; @types/js-yaml does not declare them.
const { merge } = (jsYaml as unknown as { types: { merge: Type } }).types;
const kubernetesYaml = CORE_SCHEMA.extend({ implicit: [merge] });

/** One document's objects (a List opened into its items), or the problem with its line. */
export function parseDocument(text: string, source: string, line: number): ReadItem[] {
  let parsed: unknown;
  try {
    // json: a key given twice keeps the last value, as JSON.parse and the API server do.
    parsed = load(text, { filename: source, json: true, schema: kubernetesYaml });
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
