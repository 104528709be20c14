/**
 * The HTTPS endpoint scan Jobs deliver their reports to:
 *
 *   PUT /v1/reports/<namespace>/<imagescan>   (gzip-compressed CycloneDX JSON, up to 50 MiB)
 *
 * Only the scan's own Job gets through: the bearer token must be a projected ServiceAccount
 * token for the `securestack-report` audience (checked with a TokenReview), issued to a pod in
 * that namespace whose labels name this ImageScan's UID. Authentication happens before the body
 * is read, so an anonymous client cannot make the server inflate 50 MiB. Every refusal is
 * answered with 401, 413 or 4xx and counted in securestack_report_uploads_total.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ImageScan } from '../../api/types.generated';
import { imageScanType } from '../../api/resources';
import { imageScanUidLabel, reportTokenAudience } from './scanjob';
import type { KubeClient } from '../../platform/kube/client';
import type { Logger } from '../../platform/log';
import { listenWithRotatingCertificate, type ServingCertificates } from '../../platform/tls/serving';
import type { ScanMetrics } from './metrics';
import { MAX_COMPRESSED_BYTES, ReportError, checkContentLength, isTooLarge, readCompressedBody } from './report';

const podNameExtra = 'authentication.kubernetes.io/pod-name';
const routePattern = /^\/v1\/reports\/([a-z0-9][-a-z0-9]{0,62})\/([a-z0-9][-a-z0-9.]{0,252})$/;
/** Uploads handled at once; more wait for a 429 retry rather than pile up in memory. */
const maxConcurrentUploads = 8;

export type UploadVerdict = { status: 201 } | { status: 413 | 422; reason: string };

export interface UploadServerOptions {
  port: number;
  host: string;
  /** Serves its current key pair and every renewal, without a restart. */
  tls: Pick<ServingCertificates, 'attach'>;
  client: KubeClient;
  log: Logger;
  metrics: ScanMetrics;
  maxCompressedBytes?: number;
  /**
   * Inflates, checks and stores an authenticated report for the ImageScan (the gzip as it
   * arrived); answers 422 when the report is invalid and 413 when it inflates past the limit.
   */
  onReport: (scan: ImageScan, gzip: Buffer) => Promise<UploadVerdict>;
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly result: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startUploadServer(options: UploadServerOptions): Promise<Server> {
  let inFlight = 0;
  const server = createServer((req, res) => {
    if (inFlight >= maxConcurrentUploads) {
      answer(res, 429, 'too many uploads at once; retry');
      options.metrics.reportUploads.inc({ result: 'throttled' });
      return;
    }
    inFlight++;
    handle(req, res, options)
      .catch((err: unknown) => {
        const refusal = err instanceof HttpRefusal ? err : new HttpRefusal(500, 'error', 'internal error');
        if (!(err instanceof HttpRefusal)) options.log.error({ err: err instanceof Error ? err.message : String(err) }, 'report upload failed');
        options.metrics.reportUploads.inc({ result: refusal.result });
        answer(res, refusal.status, refusal.message);
      })
      .finally(() => inFlight--);
  });
  await listenWithRotatingCertificate(server, { port: options.port, host: options.host, tls: options.tls, requestTimeoutMs: 120_000 });
  return server;
}

function answer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return;
  // The unread rest of a refused body is not worth keeping the connection for.
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(`${message}\n`);
}

async function handle(req: IncomingMessage, res: ServerResponse, options: UploadServerOptions): Promise<void> {
  const route = routePattern.exec((req.url ?? '').split('?')[0] ?? '');
  if (!route || req.method !== 'PUT') throw new HttpRefusal(404, 'not_found', 'not found');
  const [, namespace = '', name = ''] = route;
  try {
    checkContentLength(req.headers['content-length'], options.maxCompressedBytes ?? MAX_COMPRESSED_BYTES);
  } catch {
    throw new HttpRefusal(413, 'too_large', 'report too large');
  }
  const scan = await authenticate(req, namespace, name, options);
  if ((req.headers['content-encoding'] ?? '') !== 'gzip') throw new HttpRefusal(415, 'invalid', 'the report must be gzip-compressed');
  const gzip = await readBody(req, options);
  const verdict = await options.onReport(scan, gzip);
  if (verdict.status !== 201) {
    options.metrics.reportUploads.inc({ result: verdict.status === 413 ? 'too_large' : 'invalid' });
    answer(res, verdict.status, verdict.reason);
    return;
  }
  options.metrics.reportUploads.inc({ result: 'accepted' });
  options.log.info({ namespace, name, compressedBytes: gzip.length }, 'report accepted');
  answer(res, 201, 'accepted');
}

async function readBody(req: IncomingMessage, options: UploadServerOptions): Promise<Buffer> {
  try {
    return await readCompressedBody(req, options.maxCompressedBytes);
  } catch (err) {
    if (isTooLarge(err)) throw new HttpRefusal(413, 'too_large', 'report too large');
    if (err instanceof ReportError) throw new HttpRefusal(400, 'invalid', err.message);
    throw err;
  }
}

/** Returns the ImageScan the caller may report for, or refuses with 401. */
async function authenticate(req: IncomingMessage, namespace: string, name: string, options: UploadServerOptions): Promise<ImageScan> {
  const refuse = (why: string): never => {
    options.log.warn({ namespace, name, why }, 'report upload refused');
    throw new HttpRefusal(401, 'unauthorized', 'unauthorized');
  };
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return refuse('no bearer token');
  const review = await options.client.reviewToken(token, [reportTokenAudience]);
  if (!review.authenticated) return refuse('token not authenticated for the report audience');
  const username = review.user?.username ?? '';
  if (!username.startsWith(`system:serviceaccount:${namespace}:`)) return refuse(`token of ${username} is not from namespace ${namespace}`);
  const podName = review.user?.extra?.[podNameExtra]?.[0];
  if (!podName) return refuse('token is not bound to a pod');
  const [pod, scan] = await Promise.all([
    options.client.getPod(namespace, podName),
    options.client.getCustom<ImageScan>(imageScanType, { namespace, name }),
  ]);
  // An unknown ImageScan gets the same 401 as a foreign pod: no probing for names.
  if (!scan?.metadata?.uid) return refuse('no such ImageScan');
  if (pod?.metadata?.labels?.[imageScanUidLabel] !== scan.metadata.uid) return refuse(`pod ${podName} is not a scan pod of this ImageScan`);
  return scan;
}
