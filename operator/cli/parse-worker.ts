/**
 * The worker thread behind readObjects for large files (documents.ts): it reads one file, splits it
 * into documents and parses them, and hands the objects over in batches, so that YAML parsing (a
 * third of `securestack audit`'s time on 10,000 manifests) runs on the second core while the main
 * thread judges the objects already parsed. At most `inFlight` batches wait unacknowledged, so a
 * large file is still never held whole.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseDocument, splitDocuments, type ReadItem } from './documents';

export interface ParseRequest {
  file: string;
  source: string;
}

export type ParseMessage = { items: ReadItem[] } | { done: true } | { error: string };

const batchSize = 50;
const inFlight = 8;

async function main(port: NonNullable<typeof parentPort>, { file, source }: ParseRequest): Promise<void> {
  let unacknowledged = 0;
  let acknowledged: (() => void) | undefined;
  port.on('message', () => {
    unacknowledged--;
    acknowledged?.();
  });
  const send = async (items: ReadItem[]): Promise<void> => {
    port.postMessage({ items } satisfies ParseMessage);
    unacknowledged++;
    while (unacknowledged >= inFlight) await new Promise<void>((resolve) => (acknowledged = resolve));
  };
  let batch: ReadItem[] = [];
  for await (const document of splitDocuments(createReadStream(file, { encoding: 'utf8' }))) {
    batch.push(...parseDocument(document.text, source, document.line));
    if (batch.length >= batchSize) {
      await send(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await send(batch);
  port.postMessage({ done: true } satisfies ParseMessage);
}

if (parentPort) {
  const port = parentPort;
  main(port, workerData as ParseRequest).catch((err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies ParseMessage));
}
