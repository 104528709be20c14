/**
 * The admission webhook's HTTPS endpoint: POST /validate with an AdmissionReview v1, answered
 * with one. Bodies are bounded, malformed reviews get a 400 with the reason, and the serving
 * certificate is swapped in place when it rotates (ServingCertificates.attach: no restart, no
 * dropped connections).
 */
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../platform/log';
import { listenWithRotatingCertificate, type ServingCertificates } from '../../platform/tls/serving';
import { BodyTooLargeError, drainRefusedBody, readBoundedBody } from '../../platform/runtime/http';
import { admissionOperations } from '../../engine/match';
import type { AdmissionHandler, AdmissionRequest, AdmissionResponse } from './admission';
import { validateResourcesPath, type ResourceValidationHandler } from './resource-validation';

export interface WebhookServerOptions {
  port: number;
  host: string;
  /** Serves its current key pair and every renewal. */
  tls: Pick<ServingCertificates, 'attach'>;
  handler: AdmissionHandler;
  /** Checks of SecureStack's own resources, served at validateResourcesPath. */
  resources?: ResourceValidationHandler;
  log: Logger;
  /** Largest AdmissionReview accepted; the API server sends object and oldObject, each up to ~3 MiB. */
  maxBodyBytes: number;
}

export const validatePath = '/validate';

export class WebhookServer {
  private constructor(readonly server: Server) {}

  static async start(options: WebhookServerOptions): Promise<WebhookServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const review = reviewerFor(path, options);
      if (!review) return answerError(res, 404, 'not found');
      if (req.method !== 'POST') return answerError(res, 405, 'use POST');
      readBoundedBody(req, options.maxBodyBytes).then(
        (body) => respond(res, body, review, options.log),
        (err: unknown) => {
          if (err instanceof BodyTooLargeError) {
            // The rest of the body first (twice the limit or 5 s at most), so the sender reads the
            // 413 rather than a reset connection.
            const message = err.message;
            void drainRefusedBody(req, 2 * options.maxBodyBytes, 5_000).then((ended) => {
              if (ended) answerError(res, 413, message);
            });
          }
          else answerError(res, 400, `reading the request failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    });
    // The API server's own timeout is at most 30 s; nothing legitimate is slower than that.
    await listenWithRotatingCertificate(server, { port: options.port, host: options.host, tls: options.tls, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 60_000 });
    return new WebhookServer(server);
  }
}

/** Who answers a path: the policies at /validate, SecureStack's own resources at /validate-resources. */
function reviewerFor(path: string | undefined, options: WebhookServerOptions): ((request: AdmissionRequest) => AdmissionResponse) | undefined {
  if (path === validatePath) return (request) => options.handler.review(request);
  const resources = options.resources;
  if (path === validateResourcesPath && resources) return (request) => resources.review(request);
  return undefined;
}

function answerError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...(status === 413 ? { connection: 'close' } : {}) }).end(`${message}\n`);
}

function respond(res: ServerResponse, body: Buffer, review: (request: AdmissionRequest) => AdmissionResponse, log: Logger): void {
  let request: AdmissionRequest;
  try {
    request = parseReview(body);
  } catch (err) {
    answerError(res, 400, err instanceof Error ? err.message : String(err));
    return;
  }
  const response = review(request);
  if (!response.allowed) log.info({ uid: request.uid, kind: request.kind.kind, namespace: request.namespace, name: request.name, operation: request.operation }, 'admission denied');
  const payload = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
  res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
}

/** The request of an AdmissionReview v1, or an error naming what is missing. */
export function parseReview(body: Buffer): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new Error(`the body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof review !== 'object' || review === null) throw new Error('expected an AdmissionReview of admission.k8s.io/v1');
  const object = review as { apiVersion?: unknown; kind?: unknown; request?: Partial<AdmissionRequest> };
  if (object.apiVersion !== 'admission.k8s.io/v1' || object.kind !== 'AdmissionReview') {
    throw new Error('expected an AdmissionReview of admission.k8s.io/v1');
  }
  const request = object.request;
  if (!request || typeof request.uid !== 'string' || !request.kind || typeof request.kind.kind !== 'string' || typeof request.operation !== 'string') {
    throw new Error('the AdmissionReview has no request with uid, kind and operation');
  }
  if (!(admissionOperations as readonly string[]).includes(request.operation)) {
    throw new Error(`the AdmissionReview's operation must be one of ${admissionOperations.join(', ')}, got ${JSON.stringify(request.operation.slice(0, 64))}`);
  }
  return request as AdmissionRequest;
}
