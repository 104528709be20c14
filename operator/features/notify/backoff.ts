/**
 * When the next attempt of a failed delivery runs: exponential from `baseMs`, capped, with
 * "equal jitter" (half the step fixed, half random) so that many deliveries that failed together
 * (a receiver that was down) do not come back in one burst, yet never retry sooner than half the
 * step. A receiver's Retry-After wins, within the cap.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Delay before attempt `failedAttempts + 1`, after `failedAttempts` (≥ 1) failures. */
export function backoffDelay(policy: BackoffPolicy, failedAttempts: number, random: () => number = Math.random, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) return Math.min(policy.capMs, retryAfterMs);
  // 2 ** 40 is past any cap; bounding the exponent keeps the arithmetic finite.
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(40, Math.max(0, failedAttempts - 1)));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Retry-After as a delay: delta-seconds or an HTTP date (RFC 9110 10.2.3). Undefined when absent
 * or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
