/**
 * The child process behind ReportParser (report-parser.ts): inflates, parses, validates and
 * summarizes reports outside the operator's process. Inflating and parsing a 50 MiB report take
 * seconds of CPU and hundreds of MiB; in the operator they would compete with the event loop that
 * answers the admission webhook and leave its memory grown.
 *
 * One report at a time, in arrival order, so memory holds one parsed document, not eight.
 */
import { gzipSync } from 'node:zlib';
import { setThreadPriorities } from '../../platform/runtime/priority';
import { ReportError, checkValidator, inflateReport, parseReport } from './report';
import { asBuffer, type WorkerReply, type WorkerRequest } from './report-parser';

function reply(message: WorkerReply): void {
  process.send?.(message);
}

/** Pieces of each report's gzip, by request id, until its parse request arrives. */
const received = new Map<number, Buffer[]>();

async function handle(request: Exclude<WorkerRequest, { kind: 'chunk' }>): Promise<void> {
  try {
    if (request.kind === 'check') {
      await checkValidator(request.specVersion);
      reply({ id: request.id, ok: true });
      return;
    }
    const gzip = Buffer.concat(received.get(request.id) ?? []);
    received.delete(request.id);
    const json = inflateReport(gzip, request.maxDecompressedBytes);
    const parsed = await parseReport(json, request.options);
    // The uploader's gzip is stored as it arrived unless it is too loose to fit the result
    // objects; then it is compressed again here, once, at the highest level.
    const recompressed = gzip.length > request.recompressOver ? gzipSync(json, { level: 9 }) : undefined;
    // Only the summary (and that gzip, if any) goes back, never the parsed document.
    reply({ id: request.id, ok: true, summary: parsed.summary, sha256: parsed.sha256, bytes: json.length, ...(recompressed ? { gzip: recompressed } : {}) });
  } catch (err) {
    if (err instanceof ReportError) reply({ id: request.id, ok: false, reason: err.reason, detail: err.detail });
    else reply({ id: request.id, ok: false, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

/**
 * Every thread of this process at the lowest CPU priority (nice 19): the main thread, V8's GC
 * helpers and libuv's pool (started later, it inherits the value). On a busy node the operator's
 * event loop then always gets a core first; a report may take longer, the webhook's deadline may not.
 */
function yieldCpuToOperator(): void {
  setThreadPriorities(19);
}

yieldCpuToOperator();
// The operator ends this process when idle; if the operator itself is gone, so is the channel.
process.on('disconnect', () => process.exit(0));
let queue: Promise<void> = Promise.resolve();
process.on('message', (request: WorkerRequest) => {
  if (request.kind === 'chunk') {
    // Kept at once, whatever is being parsed now; used when the parse request comes.
    const pieces = received.get(request.id) ?? [];
    pieces.push(asBuffer(request.data));
    received.set(request.id, pieces);
    return;
  }
  queue = queue.then(() => handle(request));
});
