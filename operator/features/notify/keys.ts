/**
 * Signing keys, one per receiver, from Secrets in the operator's namespace. Read at start and
 * again every `refreshMs`, so a rotated or newly created Secret is picked up without a restart.
 * A receiver without a usable key is not a reason to stop the process: its deliveries wait
 * (retried with back-off) while the problem is reported once per change, as a log line, a
 * metric and a Kubernetes Event (the notifier's job, through `onChange`).
 */
import type { KubeClient } from '../../platform/kube/client';
import type { ReceiverConfig } from './receivers';
import { decodeSigningKey } from './signing';

export type KeyState = { key: Buffer; problem?: undefined } | { key?: undefined; problem: string };

export interface KeySource {
  get(receiver: string): KeyState;
}

/** Fixed keys (tests, the benchmark). */
export class StaticKeys implements KeySource {
  constructor(private readonly keys: ReadonlyMap<string, Buffer>) {}

  get(receiver: string): KeyState {
    const key = this.keys.get(receiver);
    return key ? { key } : { problem: `no signing key for receiver ${receiver}` };
  }
}

export interface SecretKeysOptions {
  client: Pick<KubeClient, 'getSecret'>;
  namespace: string;
  receivers: readonly ReceiverConfig[];
  refreshMs: number;
  onChange(receiver: string, state: KeyState): void;
}

export class SecretKeys implements KeySource {
  private readonly states = new Map<string, KeyState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SecretKeysOptions) {
    for (const receiver of options.receivers) this.states.set(receiver.name, { problem: 'signing key not loaded yet' });
  }

  get(receiver: string): KeyState {
    return this.states.get(receiver) ?? { problem: `unknown receiver ${receiver}` };
  }

  /** Reads every receiver's Secret once; never throws. */
  async load(): Promise<void> {
    await Promise.all(this.options.receivers.map((receiver) => this.loadOne(receiver)));
  }

  start(): void {
    this.timer ??= setInterval(() => void this.load(), this.options.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async loadOne(receiver: ReceiverConfig): Promise<void> {
    const where = `Secret ${this.options.namespace}/${receiver.secret.name}`;
    let next: KeyState;
    try {
      const secret = await this.options.client.getSecret(this.options.namespace, receiver.secret.name);
      const encoded = secret?.data?.[receiver.secret.key];
      if (!secret) next = { problem: `${where} does not exist` };
      else if (encoded === undefined) next = { problem: `${where} has no key '${receiver.secret.key}'` };
      else next = { key: decodeSigningKey(Buffer.from(encoded, 'base64').toString('utf8')) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A failed read keeps a key already known (an API hiccup is not a rotation).
      if (this.states.get(receiver.name)?.key) return;
      next = { problem: message.startsWith('the signing key') ? `${where}, key '${receiver.secret.key}': ${message}` : `cannot read ${where}: ${message}` };
    }
    const previous = this.states.get(receiver.name);
    this.states.set(receiver.name, next);
    const changed = previous?.problem !== next.problem || (next.key !== undefined && !previous?.key?.equals(next.key));
    if (changed) this.options.onChange(receiver.name, next);
  }
}
