/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, ADR 0021): HMAC-SHA256 over
 * `${id}.${timestamp}.${body}` with the receiver's key, sent as
 *
 *   webhook-id: msg_...            (the delivery id: the same on every retry)
 *   webhook-timestamp: 1767225600  (Unix seconds of this attempt)
 *   webhook-signature: v1,<base64> (space-separated list; one entry today)
 *
 * so receivers can verify with the Standard Webhooks libraries as well as by hand.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Keys shorter than this are refused (the spec recommends 24 to 64 random bytes). */
export const minKeyBytes = 24;
export const maxKeyBytes = 64;

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The key bytes of a Secret value in Standard Webhooks form: `whsec_` (optional) followed by
 * base64. Throws with a message fit for a log line and an Event when it is not one.
 */
export function decodeSigningKey(value: string): Buffer {
  const text = value.trim().replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error('the signing key must be base64 (optionally prefixed whsec_), e.g. from `openssl rand -base64 32`');
  const key = Buffer.from(text, 'base64');
  if (key.length < minKeyBytes || key.length > maxKeyBytes) throw new Error(`the signing key must decode to ${minKeyBytes}-${maxKeyBytes} bytes, got ${key.length}`);
  return key;
}

export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

export function signedHeaders(key: Buffer, id: string, timestamp: number, body: string): SignedHeaders {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(key, id, timestamp, body) };
}

/**
 * What a receiver does (the docs show the same in Node and Python): recompute, compare in
 * constant time against every `v1,` entry, and refuse timestamps outside the tolerance so a
 * captured request cannot be replayed later.
 */
export function verify(key: Buffer, headers: Partial<SignedHeaders>, body: string, nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = 300): boolean {
  const id = headers['webhook-id'];
  const timestamp = Number(headers['webhook-timestamp']);
  const signatures = headers['webhook-signature'];
  if (!id || !Number.isInteger(timestamp) || !signatures) return false;
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(key, id, timestamp, body).slice(3), 'base64');
  return signatures.split(' ').some((entry) => {
    const [version, value = ''] = entry.split(',', 2);
    if (version !== 'v1') return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * The delivery id: one per (receiver, logical event), so a retry, a re-reconcile, another
 * replica or a new leader sending the same event to the same receiver uses the same id and the
 * receiver can drop the duplicate.
 */
export function deliveryId(receiver: string, dedupeKey: string): string {
  return `msg_${createHash('sha256').update(receiver).update('\u0000').update(dedupeKey).digest('hex').slice(0, 32)}`;
}
