/**
 * Runs inside the scan Job, after the scanner: sends the CycloneDX report to the controller over
 * HTTPS, gzip-compressed, authenticated with the pod's projected ServiceAccount token (audience
 * bound, pod bound, short-lived). The report never travels through pod logs.
 *
 *   SECURESTACK_REPORT_FILE        the scanner's output
 *   SECURESTACK_UPLOAD_URL         https://<controller>/v1/reports/<namespace>/<imagescan>
 *   SECURESTACK_UPLOAD_TOKEN_FILE  the projected token
 *   SECURESTACK_UPLOAD_CA          PEM bundle of the CAs the controller's certificate may be signed by
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

// About a minute of retries (2, 4, 8, 16, 30 s): enough to ride out a controller restart.
const attempts = 6;
const requestTimeoutMs = 60_000;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

class UploadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

async function uploadOnce(url: URL, file: string, token: string, ca: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        ca,
        timeout: requestTimeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/vnd.cyclonedx+json',
          'content-encoding': 'gzip',
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body = (body + chunk).slice(0, 2_000)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          // 4xx means the report or the credentials are wrong: sending it again cannot help.
          else reject(new UploadError(`controller answered ${status}: ${body.trim()}`, status >= 500 || status === 429));
        });
      },
    );
    req.on('timeout', () => req.destroy(new UploadError('upload timed out', true)));
    req.on('error', (err) => reject(err instanceof UploadError ? err : new UploadError(err.message, true)));
    pipeline(createReadStream(file), createGzip(), req).catch((err: unknown) => req.destroy(err instanceof Error ? err : new Error(String(err))));
  });
}

async function main(): Promise<void> {
  const file = required('SECURESTACK_REPORT_FILE');
  const url = new URL(required('SECURESTACK_UPLOAD_URL'));
  if (url.protocol !== 'https:') throw new Error('SECURESTACK_UPLOAD_URL must be https');
  const ca = required('SECURESTACK_UPLOAD_CA');
  const size = (await stat(file)).size;
  for (let attempt = 1; ; attempt++) {
    // Re-read the token on every attempt: the kubelet rotates projected tokens.
    const token = (await readFile(required('SECURESTACK_UPLOAD_TOKEN_FILE'), 'utf8')).trim();
    try {
      await uploadOnce(url, file, token, ca);
      process.stdout.write(`uploaded report (${size} bytes before compression) to ${url.origin}${url.pathname}\n`);
      return;
    } catch (err) {
      const retryable = err instanceof UploadError && err.retryable;
      const message = err instanceof Error ? err.message : String(err);
      if (!retryable || attempt >= attempts) throw new Error(`upload failed after ${attempt} attempt(s): ${message}`);
      process.stderr.write(`upload attempt ${attempt} failed (${message}); retrying\n`);
      await sleep(Math.min(1_000 * 2 ** attempt, 30_000));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`securestack-uploader: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
