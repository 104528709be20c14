/**
 * Reports are inflated and parsed in a child process (report-worker.ts), not in the operator. The
 * operator's event loop also answers the admission webhook, whose deadline is two seconds; a
 * 50 MiB report spends seconds of CPU in gunzip, JSON.parse and schema validation and grows a
 * heap of hundreds of MiB. A worker thread kept that off the event loop but not off the process:
 * its GC and zlib ran on the process's shared threads at normal priority, competing with the
 * event loop for the CPU, and its memory stayed with the operator after it ended (ADR 0016).
 *
 * Here the operator hands over the gzip as it arrived (a few MiB) and gets the small summary back.
 * The child runs at nice 19 on every thread, sees none of the operator's environment (no
 * credentials), starts on first use (schema compilation, about a second, is paid once per
 * start), is started again after a crash, and ends when idle.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, ReportError, TooLargeError, type ParseOptions, type ReportErrorReason, type ScanSummary } from './report';

type Request =
  | { kind: 'check'; specVersion?: string }
  /** The report's gzip arrives before this in `chunk` messages of the same id. */
  | { kind: 'parse'; maxDecompressedBytes: number; recompressOver: number; options: ParseOptions };
export type WorkerRequest = (Request & { id: number }) | { kind: 'chunk'; id: number; data: Uint8Array };

/**
 * The gzip crosses in pieces this large: serializing a message copies it on the event loop, 2.5 ms
 * for 3.5 MiB in one piece, a fraction of a millisecond per piece with a yield between them.
 */
const chunkBytes = 256 * 1024;

export type WorkerReply =
  | { id: number; ok: true; summary?: ScanSummary; sha256?: string; bytes?: number; gzip?: Uint8Array }
  | { id: number; ok: false; reason: ReportErrorReason; detail: string }
  | { id: number; ok: false; message: string };

/** What the operator needs of a report. */
export interface ReportFacts {
  summary: ScanSummary;
  /** sha256 of the decompressed JSON, hex. */
  sha256: string;
  /** Size of the decompressed JSON. */
  bytes: number;
  /** The report compressed again, only when the upload's gzip was over `recompressOver`. */
  gzip?: Buffer;
}

export interface ParseLimits {
  /** Refuse (TooLargeError) a report that inflates past this (default 200 MiB). */
  maxDecompressedBytes?: number;
  /** Compress again, at level 9, when the uploaded gzip is larger than this (default: never). */
  recompressOver?: number;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
}

const workerFile = path.join(__dirname, 'report-worker.js');

export class ReportParser {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * @param idleMs an idle child ends after this long: it costs tens of MiB (the CycloneDX library
   *   and compiled schemas) that a cluster scanning now and then need not keep; the next report
   *   starts a new one.
   */
  constructor(private readonly idleMs = 60_000) {}

  /** Whether a child is running now (it ends when idle). */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** The running child's process id, if one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Inflates, parses, validates and summarizes an uploaded report (gzip-compressed CycloneDX
   * JSON) in the child; rejects with ReportError for a bad report (TooLargeError past the
   * decompressed limit), as parseReport does.
   */
  async parse(gzip: Buffer, options: ParseOptions = {}, limits: ParseLimits = {}): Promise<ReportFacts> {
    const request: Request = {
      kind: 'parse',
      maxDecompressedBytes: limits.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      recompressOver: limits.recompressOver ?? Number.MAX_SAFE_INTEGER,
      options: { ...options },
    };
    const reply = await this.call(request, limits.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES, gzip);
    if (!reply.summary || !reply.sha256 || reply.bytes === undefined) throw new Error('the report parser answered without a summary');
    return { summary: reply.summary, sha256: reply.sha256, bytes: reply.bytes, ...(reply.gzip ? { gzip: asBuffer(reply.gzip) } : {}) };
  }

  /** checkValidator (report.ts), in the child: fails when no report could be validated. */
  async checkValidator(specVersion?: string): Promise<void> {
    await this.call({ kind: 'check', ...(specVersion ? { specVersion } : {}) }, DEFAULT_MAX_DECOMPRESSED_BYTES);
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  private async call(request: Request, maxDecompressedBytes: number, payload?: Buffer): Promise<Extract<WorkerReply, { ok: true }>> {
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const child = this.started();
    const replied = new Promise<WorkerReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // Awaited below, after the pieces are sent; a child lost meanwhile must not leave the
    // rejection unhandled until then.
    replied.catch(() => undefined);
    child.ref();
    child.channel?.ref();
    const send = (message: WorkerRequest): void => {
      child.send(message, (err) => {
        if (err) this.lost(child, err);
      });
    };
    for (let offset = 0; payload && offset < payload.length; offset += chunkBytes) {
      send({ kind: 'chunk', id, data: payload.subarray(offset, offset + chunkBytes) });
      // Admission gets the event loop between pieces.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.child !== child) break; // lost meanwhile: the pending call was failed already
    }
    if (this.child === child) send({ ...request, id });
    const reply = await replied;
    if (reply.ok) return reply;
    if ('reason' in reply) throw reply.reason === 'TooLarge' ? new TooLargeError('decompressed', maxDecompressedBytes) : new ReportError(reply.reason, reply.detail);
    throw new Error(`the report parser failed: ${reply.message}`);
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(workerFile, [], {
      // Buffers cross as bytes, not as JSON arrays of numbers.
      serialization: 'advanced',
      // None of the operator's environment (a Redis URL may hold a password) nor its Node flags.
      env: {},
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (reply: WorkerReply) => this.settle(reply));
    child.on('error', (err) => this.lost(child, err));
    child.on('exit', (code, signal) => this.lost(child, new Error(`the report parser exited (${signal ?? `code ${code}`})`)));
    this.child = child;
    return child;
  }

  private settle(reply: WorkerReply): void {
    const waiting = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    // Idle again: an idle child must not keep the operator from exiting, and ends after idleMs.
    if (this.pending.size === 0 && this.child) {
      this.child.unref();
      this.child.channel?.unref();
      this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
      this.idleTimer.unref();
    }
    waiting?.resolve(reply);
  }

  /** A crashed child fails what it held; the next call starts a new one. */
  private lost(child: ChildProcess, err: Error): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}

/** What crosses the channel as a Buffer may arrive as a plain Uint8Array: a Buffer over the same memory. */
export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
