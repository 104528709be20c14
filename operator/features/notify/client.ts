/**
 * One HTTP(S) POST of a signed delivery to one receiver, and what came of it. TLS is verified
 * against Node's default CAs plus the receiver's own bundle; the address guard runs on the
 * resolved addresses as the socket connects; redirects are not followed (a 3xx is a failed
 * attempt: following it could lead anywhere, including past the guard); the whole attempt
 * (connect, TLS, request, response) has one deadline, and at most `maxResponseBytes` of the
 * answer are read.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { LookupFunction } from 'node:net';
import { AddressRefusedError, addressRefusal, guardedLookup, hostnameRefusal, parseAddress } from './address-guard';
import { parseRetryAfter } from './backoff';
import type { ReceiverConfig } from './receivers';
import type { SignedHeaders } from './signing';

export type AttemptResult = 'delivered' | 'http_error' | 'timeout' | 'network' | 'tls' | 'refused';

export interface AttemptOutcome {
  result: AttemptResult;
  /** A refusal by the address guard: retrying cannot help until the configuration changes. */
  permanent: boolean;
  message: string;
  status?: number;
  retryAfterMs?: number;
}

export interface ClientOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  /** Connections kept per receiver: the most attempts in flight to it at once. */
  maxSockets: number;
  /** Tests resolve names their own way; production uses the system resolver behind the guard. */
  lookup?: LookupFunction;
  userAgent?: string;
}

class AttemptTimeout extends Error {}

export class ReceiverClient {
  private readonly agent: http.Agent;
  private readonly lookup: LookupFunction;

  constructor(readonly receiver: ReceiverConfig, private readonly options: ClientOptions) {
    this.lookup = options.lookup ?? guardedLookup(receiver.allowAddresses);
    const common = { keepAlive: true, maxSockets: options.maxSockets, lookup: this.lookup };
    this.agent = receiver.url.protocol === 'http:'
      ? new http.Agent(common)
      // The default CAs stay trusted: a bundle adds a private CA, it does not replace the public ones.
      : new https.Agent({ ...common, ...(receiver.caBundle ? { ca: [...rootCertificates, receiver.caBundle] } : {}), rejectUnauthorized: true });
  }

  /** Why this receiver's URL is refused before any connection (an IP literal in a refused range). */
  preflight(): string | undefined {
    const host = this.receiver.url.hostname.replace(/^\[|\]$/g, '');
    if (parseAddress(host)) return addressRefusal(host, this.receiver.allowAddresses);
    // A metadata name with an allowAddresses exception is decided by the lookup, on the address.
    return this.receiver.allowAddresses.length === 0 ? hostnameRefusal(host) : undefined;
  }

  async send(headers: SignedHeaders, body: Buffer): Promise<AttemptOutcome> {
    const refused = this.preflight();
    if (refused) return { result: 'refused', permanent: true, message: refused };
    try {
      return await this.post(headers, body);
    } catch (err) {
      return classify(err, this.options.timeoutMs);
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private post(headers: SignedHeaders, body: Buffer): Promise<AttemptOutcome> {
    const { url } = this.receiver;
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise<AttemptOutcome>((resolve, reject) => {
      const request = transport.request(url, {
        method: 'POST',
        agent: this.agent,
        lookup: this.lookup,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': this.options.userAgent ?? 'SecureStack-Webhooks/1',
          ...headers,
        },
      }, (response) => {
        readBounded(response, this.options.maxResponseBytes).then((text) => {
          clearTimeout(timer);
          resolve(outcomeOf(response, text));
        }, (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
      // One deadline for the whole attempt, not per socket event: a receiver that trickles
      // bytes must not hold a delivery slot forever.
      const timer = setTimeout(() => request.destroy(new AttemptTimeout(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      request.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      request.end(body);
    });
  }
}

function outcomeOf(response: http.IncomingMessage, text: string): AttemptOutcome {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { result: 'delivered', permanent: false, status, message: `answered ${status}` };
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  const redirect = status >= 300 && status < 400 ? ' (redirects are not followed: point the receiver url at the final address)' : '';
  const excerpt = text.trim().slice(0, 200);
  return {
    result: 'http_error',
    permanent: false,
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    message: `answered ${status}${redirect}${excerpt ? `: ${excerpt}` : ''}`,
  };
}

/** Reads at most `limit` bytes of a response, then stops reading (and drops the connection). */
function readBounded(response: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    response.on('data', (chunk: Buffer) => {
      if (bytes >= limit) return;
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= limit) {
        // Enough to log; the rest is not worth the memory, nor the connection.
        response.destroy();
        resolve(Buffer.concat(chunks).subarray(0, limit).toString('utf8'));
      }
    });
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', reject);
  });
}

const tlsCodes = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|HOSTNAME_MISMATCH)/;

function classify(err: unknown, timeoutMs: number): AttemptOutcome {
  if (err instanceof AttemptTimeout) return { result: 'timeout', permanent: false, message: `no answer within ${timeoutMs} ms` };
  if (err instanceof AddressRefusedError) return { result: 'refused', permanent: true, message: err.message };
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const message = err instanceof Error ? err.message : String(err);
  if (tlsCodes.test(code)) return { result: 'tls', permanent: false, message: `TLS verification failed (${code}): ${message}` };
  return { result: 'network', permanent: false, message: code ? `${code}: ${message}` : message };
}
