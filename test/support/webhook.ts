// Talking to an operator's admission webhook directly, as the API server does: the CA the
// operator published, an AdmissionReview over HTTPS on loopback.
import { request } from 'node:https';
import { kubectl } from './cluster';

/** The CA bundle the operator published for its webhook, from the shared Secret. */
export async function webhookCa(namespace: string): Promise<string> {
  const result = await kubectl(['get', 'secret', 'securestack-webhook-tls', '-o', 'jsonpath={.data.ca\\.crt}'], { namespace });
  return Buffer.from(result.stdout, 'base64').toString('utf8');
}

export function postToWebhook(port: number, ca: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/validate', method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': body.length }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** An AdmissionReview asking to CREATE `object` (a Pod) in `namespace`. */
export function podReview(uid: string, namespace: string, object: { metadata?: { name?: string } & Record<string, unknown> } & Record<string, unknown>): Buffer {
  const name = object.metadata?.name ?? 'x';
  return Buffer.from(JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace, name, object: { ...object, metadata: { ...object.metadata, name, namespace } } },
  }));
}

/** The webhook's answer to a review: allowed, and the message of a denial. */
export function answerOf(reply: { status: number; body: string }): { allowed: boolean; message: string } | undefined {
  if (reply.status !== 200) return undefined;
  const response = (JSON.parse(reply.body) as { response?: { allowed: boolean; status?: { message?: string } } }).response;
  return response ? { allowed: response.allowed, message: response.status?.message ?? '' } : undefined;
}
