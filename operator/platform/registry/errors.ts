/**
 * Typed registry errors. `reason` is a short CamelCase word meant for a status condition's reason;
 * `message` is one sentence for its message (it never contains credentials or tokens).
 * `retryable` says whether trying again later can help (network trouble, rate limits, 5xx).
 */

export type RegistryErrorReason =
  | 'InvalidReference'
  | 'NotFound'
  | 'Unauthorized'
  | 'TooLarge'
  | 'Network'
  | 'InvalidResponse';

export abstract class RegistryError extends Error {
  abstract readonly reason: RegistryErrorReason;
  abstract readonly retryable: boolean;
  /** HTTP status of the response that caused the error, if there was one. */
  readonly status?: number;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** The reference string cannot be parsed. */
export class InvalidReferenceError extends RegistryError {
  readonly reason = 'InvalidReference';
  readonly retryable = false;
  constructor(
    readonly reference: string,
    detail: string,
  ) {
    super(`invalid image reference '${reference}': ${detail}`);
  }
}

/** The repository, tag, digest or requested platform does not exist. */
export class NotFoundError extends RegistryError {
  readonly reason = 'NotFound';
  readonly retryable = false;
}

/** The registry refused the request: no, wrong or insufficient credentials (401 and 403). */
export class UnauthorizedError extends RegistryError {
  readonly reason = 'Unauthorized';
  readonly retryable = false;
}

/** A manifest or token response exceeded the size limit. */
export class TooLargeError extends RegistryError {
  readonly reason = 'TooLarge';
  readonly retryable = false;
}

/** The registry could not be reached, timed out, rate-limited us, or failed with a 5xx. */
export class NetworkError extends RegistryError {
  readonly reason = 'Network';
  readonly retryable = true;
}

/** The registry answered something we cannot use (bad digest, unknown media type, bad JSON). */
export class InvalidResponseError extends RegistryError {
  readonly reason = 'InvalidResponse';
  readonly retryable = false;
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
