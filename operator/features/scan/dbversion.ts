/**
 * The vulnerability-DB version of the Trivy server, read from its /version endpoint. Reports do
 * not name the DB they were made with, so this is how results get keyed by DB version and how a
 * DB update turns every older result into a rescan.
 */
import type { Logger } from '../../platform/log';

interface TrivyVersionInfo {
  Version?: string;
  VulnerabilityDB?: { UpdatedAt?: string };
}

const requestTimeoutMs = 5_000;

/** First retry while the version is unknown; doubles up to the poll interval. */
const firstRetryMs = 2_000;

export class TrivyDbWatcher {
  private version: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /**
   * @param intervalMs how often to look once the version is known
   * @param retryMs first wait while it is unknown (a server that was down at start): results made
   *   meanwhile carry no DB version, so the sooner it is known, the fewer of them there are
   */
  constructor(
    private readonly serverURL: string,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly retryMs = firstRetryMs,
  ) {}

  /** The DB's UpdatedAt as the server reports it, once known. */
  current(): string | undefined {
    return this.version;
  }

  /** Reads the version now, then every interval (sooner, backing off, while it is unknown); `onChange` runs when it moves. */
  async start(onChange: (version: string) => void): Promise<void> {
    await this.poll(onChange);
    this.schedule(onChange, this.retryMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(onChange: (version: string) => void, retryMs: number): void {
    if (this.stopped) return;
    const known = this.version !== undefined;
    this.timer = setTimeout(() => {
      void this.poll(onChange).then(() => this.schedule(onChange, known ? this.retryMs : Math.min(retryMs * 2, this.intervalMs)));
    }, known ? this.intervalMs : Math.min(retryMs, this.intervalMs));
    this.timer.unref();
  }

  private async poll(onChange: (version: string) => void): Promise<void> {
    try {
      const response = await fetch(`${this.serverURL}/version`, { signal: AbortSignal.timeout(requestTimeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = (await response.json()) as TrivyVersionInfo;
      const updatedAt = info.VulnerabilityDB?.UpdatedAt;
      if (!updatedAt || updatedAt === this.version) return;
      const previous = this.version;
      this.version = updatedAt;
      this.log.info({ previous, current: updatedAt, server: info.Version }, 'vulnerability DB version');
      if (previous !== undefined) onChange(updatedAt);
    } catch (err) {
      // Keeps the last known version: a server blip must not trigger rescans of everything.
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not read the Trivy server version');
    }
  }
}
