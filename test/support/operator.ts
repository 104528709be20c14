// Runs the real operator (dist/operator/main.js) as a child process against the test control
// plane, the way it runs in a pod: separate processes so kill -9 and SIGTERM mean what they mean.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { operatorNodeFlags } from '../../operator/platform/node-flags';
import { kubeconfigPath, kubectl, repoRoot, waitFor } from './cluster';

export interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  /** Every JSON log line the process wrote so far. */
  logs: Array<Record<string, unknown>>;
  /** Port of /metrics, /healthz and /readyz once the process logged it. */
  metricsPort(): Promise<number>;
  /** Value of one metric series, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Exit state, stderr and the last log lines: what a failing assertion should show. */
  describe(): string;
}

export interface OperatorOptions {
  identity: string;
  /** Namespace holding the Lease (the operator's own namespace). */
  namespace: string;
  leaseName: string;
  env?: Record<string, string>;
}

export function startOperator(options: OperatorOptions): OperatorProcess {
  const child = spawn(process.execPath, [...operatorNodeFlags, path.join(repoRoot(), 'dist', 'operator', 'main.js')], {
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath(),
      SECURESTACK_IDENTITY: options.identity,
      SECURESTACK_NAMESPACE: options.namespace,
      SECURESTACK_LEASE_NAME: options.leaseName,
      SECURESTACK_METRICS_PORT: '0',
      SECURESTACK_BIND_ADDRESS: '127.0.0.1',
      SECURESTACK_LOG_LEVEL: 'debug',
      // Off unless a test asks: other tests' pods would otherwise turn into ImageScans.
      SECURESTACK_WORKLOAD_SCANNING: 'false',
      // Off unless a test asks: a webhook configuration left behind would route other tests'
      // requests to a process that is gone. Port 0 lets several operators run side by side.
      SECURESTACK_WEBHOOK_ENABLED: 'false',
      SECURESTACK_WEBHOOK_PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const metricsPort = (): Promise<number> =>
    waitFor(`operator ${options.identity} to log its metrics port (stderr: ${stderr.slice(-500)})`, () => {
      const line = logs.find((entry) => entry.msg === 'starting' && typeof entry.metricsPort === 'number');
      return Promise.resolve(line ? (line.metricsPort as number) : undefined);
    });

  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const port = await metricsPort();
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return sumSeries(await response.text(), name, labels);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };

  const describe = (): string => {
    const state = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'running';
    const recent = logs.slice(-15).map((line) => JSON.stringify(line)).join('\n');
    return `operator ${options.identity} is ${state}; stderr: ${stderr.slice(-1000) || '(empty)'}; last log lines:\n${recent}`;
  };

  return { identity: options.identity, child, logs, metricsPort, metric, exited, stop, describe, stderr: () => stderr };
}

/** Waits until `process` holds the Lease; fails at once, with its logs, if it exits. */
export async function waitUntilLeading(process: OperatorProcess, namespace: string, leaseName: string, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(`${process.identity} to hold Lease ${namespace}/${leaseName}`, async () => {
      if (process.child.exitCode !== null || process.child.signalCode !== null) throw new Error('the operator exited');
      const result = await kubectl(['get', 'lease', leaseName, '-o', 'jsonpath={.spec.holderIdentity}'], { namespace, allowFail: true });
      return result.stdout.trim() === process.identity ? true : undefined;
    }, { timeoutMs, intervalMs: 100 });
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${process.describe()}`);
  }
}

/** Sums every series of `name` whose labels include `labels`, from Prometheus text format. */
export function sumSeries(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    const matches = Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`));
    if (matches) total += Number(match[3]);
  }
  return total;
}
