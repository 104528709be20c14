/**
 * parseReport in a worker thread. The main thread also answers the admission webhook, whose
 * deadline is two seconds; a 50 MiB report spends seconds in JSON.parse and schema validation,
 * all synchronous. Here the main thread only hands the bytes over (transferred, not copied) and
 * gets the small summary back.
 *
 * One long-lived worker, started on first use (schema compilation, about a second, is paid once)
 * and started again after a crash. It does not keep the process alive while idle.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ReportError, type ParseOptions, type ReportErrorReason, type ScanSummary } from './report';

type Request = { kind: 'check'; specVersion?: string } | { kind: 'parse'; json: Uint8Array[]; options: ParseOptions };
export type WorkerRequest = Request & { id: number };

export type WorkerReply =
  | { id: number; ok: true; summary?: ScanSummary; sha256?: string }
  | { id: number; ok: false; reason: ReportErrorReason; detail: string }
  | { id: number; ok: false; message: string };

/** What the main thread needs of a report: its summary and the sha256 of its bytes. */
export interface ReportFacts {
  summary: ScanSummary;
  sha256: string;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
}

const workerFile = path.join(__dirname, 'report-worker.js');

/** Buffers above the pool's size have an ArrayBuffer of their own (or one the caller handed over). */
function isOwnMemory(buffer: Buffer): boolean {
  return buffer.buffer instanceof ArrayBuffer && buffer.buffer.byteLength > Buffer.poolSize;
}

export class ReportParser {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * @param idleMs an idle worker ends after this long: its isolate (the CycloneDX library and
   *   compiled schemas) costs tens of MiB that a cluster scanning now and then need not keep; the
   *   next report starts a new one.
   */
  constructor(private readonly idleMs = 60_000) {}

  /** Whether a worker is running now (it ends when idle). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Parses, validates and summarizes a report (one Buffer, or segments to be joined) in the
   * worker; rejects with ReportError for a bad report, as parseReport does. The buffers are
   * handed over: memory that is not Node's shared small-buffer pool moves to the worker (the
   * buffers are empty afterwards) instead of being copied on the event loop.
   */
  async parse(json: Buffer | readonly Buffer[], options: ParseOptions = {}): Promise<ReportFacts> {
    const views = (Buffer.isBuffer(json) ? [json] : json).map((b) => (isOwnMemory(b) ? b : new Uint8Array(b)));
    const transfer = [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
    const reply = await this.call({ kind: 'parse', json: views, options: { ...options } }, transfer);
    if (!reply.summary || !reply.sha256) throw new Error('the report worker answered without a summary');
    return { summary: reply.summary, sha256: reply.sha256 };
  }

  /** checkValidator (report.ts), in the worker: fails when no report could be validated. */
  async checkValidator(specVersion?: string): Promise<void> {
    await this.call({ kind: 'check', specVersion }, []);
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private async call(request: Request, transfer: ArrayBuffer[]): Promise<Extract<WorkerReply, { ok: true }>> {
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = this.started();
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const message: WorkerRequest = { ...request, id };
      worker.postMessage(message, transfer);
    });
    if (reply.ok) return reply;
    if ('reason' in reply) throw new ReportError(reply.reason, reply.detail);
    throw new Error(`the report worker failed: ${reply.message}`);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerFile);
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`the report worker exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(reply: WorkerReply): void {
    const waiting = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    // Idle again: an idle worker must not keep the process from exiting, and ends after idleMs.
    if (this.pending.size === 0) {
      this.worker?.unref();
      this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
      this.idleTimer.unref();
    }
    waiting?.resolve(reply);
  }

  /** A crashed worker fails what it held; the next call starts a new one. */
  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}
