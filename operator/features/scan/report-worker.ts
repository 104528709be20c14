/**
 * The worker thread behind ReportParser (report-parser.ts): parses, validates and summarizes
 * reports off the main thread. JSON.parse of a 50 MiB report and its schema validation take
 * seconds of CPU, which on the main thread would stall the admission webhook for as long.
 *
 * One report at a time, in arrival order, so memory holds one parsed document, not eight.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ReportError, checkValidator, parseReport, type ParseOptions } from './report';
import type { WorkerReply, WorkerRequest } from './report-parser';

function reply(message: WorkerReply): void {
  parentPort?.postMessage(message);
}

async function handle(request: WorkerRequest): Promise<void> {
  try {
    if (request.kind === 'check') {
      await checkValidator(request.specVersion);
      reply({ id: request.id, ok: true });
      return;
    }
    const options: ParseOptions = request.options;
    const segments = request.json.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    const parsed = await parseReport(segments.length === 1 && segments[0] ? segments[0] : Buffer.concat(segments), options);
    // Only the small summary goes back: cloning the parsed document would cost the main thread
    // what this worker saves it.
    reply({ id: request.id, ok: true, summary: parsed.summary, sha256: parsed.sha256 });
  } catch (err) {
    if (err instanceof ReportError) reply({ id: request.id, ok: false, reason: err.reason, detail: err.detail });
    else reply({ id: request.id, ok: false, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

/**
 * Runs this thread at the lowest CPU priority (nice 19), so that on a busy node the event loop
 * that answers admission always gets the CPU first; a report may take longer, the webhook's
 * deadline may not. Linux lets a thread lower its own priority without privileges, by its thread
 * id (/proc/thread-self); elsewhere, or if refused, the thread keeps the process's priority.
 */
function yieldCpuToEventLoop(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux, or not allowed: the same priority as the event loop, as before
  }
}

yieldCpuToEventLoop();
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (request: WorkerRequest) => {
  queue = queue.then(() => handle(request));
});
