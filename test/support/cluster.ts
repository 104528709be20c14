// Test harness for the real control plane started by test/env/start.sh (and by `npm test`).
//
// It talks to the cluster only through the kubectl binary: tests then exercise the API exactly as
// a user would, and the harness stays independent of the operator's Kubernetes client (which the
// operator owns and may swap).
//
// Tests must fail, never skip, when the plane is missing: a skipped suite reads as green in CI.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOW_TO_START =
  'run `npm test`, which builds and starts it, or `bash test/env/start.sh` ' +
  'and export KUBECONFIG=<the path it prints>';

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Adds `--namespace <name>`. */
  namespace?: string;
  /** Resolve with the exit code instead of rejecting when kubectl fails or times out. */
  allowFail?: boolean;
  /** Kill kubectl after this long (default 60 s); a hung call must not hang the whole run. */
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between attempts (default 250 ms). */
  intervalMs?: number;
}

const DEFAULT_KUBECTL_TIMEOUT_MS = 60_000;
// Exit code reported for a kubectl call that was killed on timeout (as coreutils' timeout does).
const TIMEOUT_EXIT_CODE = 124;

/** The repository root: the nearest folder above this file that holds package.json. */
export function repoRoot(): string {
  // Works from both test/support (ts-node style) and dist/test/support (compiled).
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'env'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the repository root above ${__dirname}`);
    }
    dir = parent;
  }
}

/**
 * The admin kubeconfig of the test control plane: SECURESTACK_KUBECONFIG, else the first entry of
 * KUBECONFIG. Throws, with instructions, if neither is set or the file does not exist.
 */
export function kubeconfigPath(): string {
  const fromEnv = process.env.SECURESTACK_KUBECONFIG || firstKubeconfigEntry(process.env.KUBECONFIG);
  if (!fromEnv) {
    throw new Error(
      'The SecureStack test control plane is not running (neither SECURESTACK_KUBECONFIG nor ' +
        `KUBECONFIG is set): ${HOW_TO_START}.`,
    );
  }
  if (!existsSync(fromEnv)) {
    throw new Error(
      `The SecureStack test control plane is not running (kubeconfig ${fromEnv} does not exist): ` +
        `${HOW_TO_START}.`,
    );
  }
  return fromEnv;
}

// KUBECONFIG may be a colon-separated list; kubectl --kubeconfig takes exactly one file.
function firstKubeconfigEntry(value: string | undefined): string | undefined {
  return value?.split(path.delimiter).find((entry) => entry.length > 0);
}

/**
 * Fails (with instructions) unless the control plane's API server answers /readyz within ~15 s.
 * Call it in every suite's `before` so a missing plane is a clear failure, not a cascade of
 * confusing kubectl errors.
 */
export async function requireCluster(): Promise<void> {
  const kubeconfig = kubeconfigPath();
  let last = '';
  try {
    await waitFor(
      'the API server to answer /readyz',
      async () => {
        const res = await kubectl(['get', '--raw', '/readyz'], { allowFail: true, timeoutMs: 5_000 });
        last = (res.stderr || res.stdout).trim();
        return res.code === 0 && res.stdout.trim() === 'ok' ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 500 },
    );
  } catch {
    throw new Error(
      `The SecureStack test control plane is not running or not ready (kubeconfig ${kubeconfig}; ` +
        `last answer: ${last || 'none'}): ${HOW_TO_START}.`,
    );
  }
}

/** Runs kubectl against the test control plane. Rejects on a non-zero exit unless allowFail. */
export function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const fullArgs = ['--kubeconfig', kubeconfigPath()];
  if (opts.namespace !== undefined) {
    fullArgs.push('--namespace', opts.namespace);
  }
  fullArgs.push(...args);
  const shown = `kubectl ${args.join(' ')}${opts.namespace !== undefined ? ` -n ${opts.namespace}` : ''}`;
  return runTool(process.env.SECURESTACK_KUBECTL ?? 'kubectl', fullArgs, shown, opts);
}

/** Runs a command-line tool (kubectl, helm) with the kubectl options: input, timeout, allowFail. */
export function runTool(program: string, fullArgs: string[], shown: string, opts: KubectlOptions = {}): Promise<KubectlResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KUBECTL_TIMEOUT_MS;
  return new Promise<KubectlResult>((resolve, reject) => {
    // No stdin pipe unless there is input: nothing to write, so no write to a closed pipe.
    const child = spawn(program, fullArgs, {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${shown}: cannot run ${program} (${err.message})`));
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      if (timedOut) {
        stderr += `${stderr.endsWith('\n') || stderr === '' ? '' : '\n'}timed out after ${timeoutMs}ms`;
      }
      const code = timedOut ? TIMEOUT_EXIT_CODE : (exitCode ?? 1);
      if (code !== 0 && !opts.allowFail) {
        reject(new Error(`${shown} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined && child.stdin) {
      // kubectl may exit before reading stdin (e.g. a bad flag); that EPIPE is not the error to report.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Creates a namespace with a unique DNS-1123 name (`<prefix>-<random>`) labelled
 * securestack.io/test=true (plus any extra labels), and waits for its `default` ServiceAccount:
 * until that exists, the ServiceAccount admission plugin rejects every pod in the namespace.
 */
export async function createTestNamespace(
  prefix: string,
  opts: { labels?: Record<string, string> } = {},
): Promise<string> {
  const name = uniqueName(prefix);
  const manifest = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { ...opts.labels, 'securestack.io/test': 'true' } },
  };
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest) });
  await waitFor(
    `ServiceAccount default in namespace ${name}`,
    async () => {
      const res = await kubectl(['get', 'serviceaccount', 'default', '-o', 'name'], {
        namespace: name,
        allowFail: true,
      });
      return res.code === 0 ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
  return name;
}

// DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, <= 63 chars.
function uniqueName(prefix: string): string {
  const suffix = randomBytes(4).toString('hex').slice(0, 6);
  const cleaned = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63 - suffix.length - 1)
    .replace(/^-+|-+$/g, '');
  return `${cleaned || 'test'}-${suffix}`;
}

/** Starts deleting a namespace and returns at once; the namespace controller finishes the job. */
export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

/**
 * Polls fn until it returns a value other than undefined and returns that value. Errors thrown by
 * fn count as "not yet" (the cluster is eventually consistent) but are reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) {
        return value;
      }
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

/** A batch/v1 Job for tests, one attempt only (backoffLimit 0), as JSON for `kubectl create -f -`. */
export function jobManifest(
  name: string,
  parts: { podSpec: Record<string, unknown>; podMetadata?: Record<string, unknown>; jobSpec?: Record<string, unknown> },
): string {
  return JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...parts.jobSpec,
      template: { metadata: parts.podMetadata ?? {}, spec: { restartPolicy: 'Never', ...parts.podSpec } },
    },
  });
}
