// The alerts and the dashboard against a real Prometheus (Debian's prometheus package: promtool
// and prometheus; ADR 0023). First the PrometheusRule as helm renders it: `promtool check rules`,
// then `promtool test rules` with test/fixtures/observability/alerts.test.yaml, which must test
// every alert firing and quiet. Then end to end: the real operator on the test plane (webhook,
// workload scanning, a receiver) admits one pod and denies another, scans the running image,
// evaluates a ComplianceReport, runs a ScheduledScan and delivers notifications, while a real
// Prometheus on loopback scrapes it every second; every panel query of the dashboard must return
// data there, and every alert expression must evaluate, firing exactly where this cluster says.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as yaml from 'js-yaml';
import { ownScanName } from '../operator/api/own-scans';
import type { ScheduledScan, VulnerabilitySummary } from '../operator/api/types.generated';
import { kubectl, waitFor } from './support/cluster';
import { loadDashboard, panelQueries, substitute } from './support/dashboard';
import { startOperator, waitUntilLeading, type OperatorProcess } from './support/operator';
import { freePort, requireScanEnvironment, scanOperatorEnv, TestResources, waitForPhase, type ScanEnvironment, webhookEnv } from './support/scanenv';
import { startTestReceiver, type TestReceiver } from './support/webhook-receiver';

const root = path.resolve(__dirname, '..', '..');
const chart = path.join(root, 'charts', 'securestack');
const alertTests = path.join(root, 'test', 'fixtures', 'observability', 'alerts.test.yaml');
const INSTALL = 'apt-get install -y prometheus (bash test/env/prereqs.sh installs it as root)';

/** A command on PATH; fails the test (never skips) with the install command when it is missing. */
function requireTool(name: 'promtool' | 'prometheus' | 'helm'): string {
  if (name === 'helm' && process.env.HELM && existsSync(process.env.HELM)) return process.env.HELM;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir !== '' && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  const how = name === 'helm' ? '`npm test` builds it with test/env/build.sh and sets $HELM' : INSTALL;
  throw new Error(`${name} is missing: ${how}`);
}

function run(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000, ...(cwd ? { cwd } : {}) });
  assert.equal(result.status, 0, `${path.basename(command)} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The rule groups of the PrometheusRule helm renders (release securestack, its defaults). */
function renderedRuleGroups(namespace = 'securestack-system'): { name: string; rules: AlertRule[] }[] {
  const out = run(requireTool('helm'), ['template', 'securestack', chart, '--namespace', namespace, '--kube-version', '1.36.1', '--set', 'monitoring.prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml']);
  const rule = yaml.load(out) as { kind: string; spec: { groups: { name: string; rules: AlertRule[] }[] } };
  assert.equal(rule.kind, 'PrometheusRule');
  return rule.spec.groups;
}

/** A folder with the rendered rules as securestack-rules.yaml (what alerts.test.yaml loads). */
function rulesDir(): { dir: string; rules: AlertRule[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'securestack-rules-'));
  const groups = renderedRuleGroups();
  writeFileSync(path.join(dir, 'securestack-rules.yaml'), yaml.dump({ groups }));
  return { dir, rules: groups.flatMap((group) => group.rules) };
}

describe('the PrometheusRule under promtool', () => {
  let dir = '';
  let rules: AlertRule[] = [];
  before(() => {
    requireTool('promtool');
    ({ dir, rules } = rulesDir());
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('promtool check rules accepts the rendered rule groups', () => {
    const out = run(requireTool('promtool'), ['check', 'rules', path.join(dir, 'securestack-rules.yaml')]);
    assert.match(out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    assert.ok(rules.length >= 9, `the alerts are rendered: ${rules.map((rule) => rule.alert).join(', ')}`);
  });

  it('every alert has a severity, a summary, a description and a runbook in docs/observability.md', () => {
    const doc = readFileSync(path.join(root, 'docs', 'observability.md'), 'utf8');
    // GitHub's anchors: a heading lower-cased, spaces to dashes, other punctuation dropped.
    const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map((match) => (match[1] ?? '').trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    for (const rule of rules) {
      assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
      const anchor = /#([a-z0-9-]+)$/.exec(rule.annotations.runbook_url ?? '')?.[1] ?? '';
      assert.equal(anchor, rule.alert.toLowerCase(), `${rule.alert}: runbook_url ends in its own anchor`);
      assert.ok(anchors.has(anchor), `${rule.alert}: docs/observability.md has a heading for #${anchor}`);
    }
  });

  it('promtool test rules: every alert fires one past its threshold and stays quiet at it', () => {
    copyFileSync(alertTests, path.join(dir, 'alerts.test.yaml'));
    const out = run(requireTool('promtool'), ['test', 'rules', 'alerts.test.yaml'], dir);
    assert.match(out, /SUCCESS/);
    // An alert without both kinds of case here is untested: removing or renaming one must fail.
    const cases = (yaml.load(readFileSync(alertTests, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of rules) {
      const own = cases.filter((test) => test.alertname === rule.alert);
      assert.ok(own.some((test) => (test.exp_alerts ?? []).length > 0), `${rule.alert} has a firing case in ${path.relative(root, alertTests)}`);
      assert.ok(own.some((test) => (test.exp_alerts ?? []).length === 0), `${rule.alert} has a quiet case in ${path.relative(root, alertTests)}`);
    }
    const unknown = [...new Set(cases.map((test) => test.alertname))].filter((name) => !rules.some((rule) => rule.alert === name));
    assert.deepEqual(unknown, [], 'cases for alerts the chart no longer has');
  });
});

/** The Prometheus HTTP API's answer to an instant query. */
interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

interface PrometheusServer {
  url: string;
  child: ChildProcess;
  log(): string;
  query(expr: string): Promise<QueryAnswer>;
  stop(): Promise<void>;
}

/** A real Prometheus on 127.0.0.1 with its own data folder, scraping `target` every second. */
async function startPrometheus(target: string, namespace: string): Promise<PrometheusServer> {
  const binary = requireTool('prometheus');
  const dir = mkdtempSync(path.join(tmpdir(), 'securestack-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    // What the chart's ServiceMonitor produces: job = the Service name, the operator's namespace
    // as target label, and the operator's own namespace labels kept (honorLabels).
    scrape_configs: [{ job_name: 'securestack', honor_labels: true, static_configs: [{ targets: [target], labels: { namespace } }] }],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), yaml.dump(config));
  const child = spawn(binary, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const server: PrometheusServer = {
    url,
    child,
    log: () => output.slice(-2000),
    async query(expr: string): Promise<QueryAnswer> {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`, { signal: AbortSignal.timeout(5_000) });
      return (await response.json()) as QueryAnswer;
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitFor(`Prometheus to be ready on ${url} (${server.log()})`, async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${server.log()}`);
    const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  return server;
}

const testRun = randomBytes(3).toString('hex');
const policyName = `obs-enforce-${testRun}`;
const webhookConfiguration = `securestack-obs-${testRun}`;

describe('the dashboard and the alerts on a real Prometheus scraping the operator', () => {
  const resources = new TestResources();
  let env: ScanEnvironment;
  let receiver: TestReceiver;
  let operator: OperatorProcess;
  let prometheus: PrometheusServer | undefined;
  let home = '';
  let ns = '';
  let image = '';

  before(async () => {
    requireTool('prometheus');
    env = await requireScanEnvironment();
    home = await resources.namespace('obs-op');
    ns = await resources.namespace('obs');
    image = `${env.registry}/fixtures/debian-app:1`;
    const key = randomBytes(32);
    await kubectl(['create', 'secret', 'generic', 'hook-key', `--from-literal=signingKey=${key.toString('base64')}`], { namespace: home });
    receiver = await startTestReceiver(key);
    const webhookPort = await freePort();
    operator = resources.track(startOperator({
      identity: `obs-${testRun}`,
      namespace: home,
      leaseName: 'obs',
      env: scanOperatorEnv(env, await freePort(), {
        ...webhookEnv(webhookPort, webhookConfiguration),
        SECURESTACK_WORKLOAD_SCANNING: 'true',
        SECURESTACK_WORKLOAD_NAMESPACES: ns,
        SECURESTACK_NOTIFY_RECEIVERS: JSON.stringify([{ name: 'hook', url: receiver.url, events: ['*'], secret: { name: 'hook-key' }, caBundle: receiver.ca.certPem }]),
      }),
    }));
    await waitUntilLeading(operator, home, 'obs');
    prometheus = await startPrometheus(`127.0.0.1:${await operator.metricsPort()}`, home);
  });
  after(async () => {
    await prometheus?.stop();
    await resources.stopOperators();
    await receiver.stop();
    await kubectl(['delete', 'scanpolicy', policyName, '--ignore-not-found'], { allowFail: true });
    await kubectl(['delete', 'validatingwebhookconfiguration', webhookConfiguration, '--ignore-not-found'], { allowFail: true });
    await resources.deleteNamespaces();
  });

  const pod = (name: string, privileged: boolean): string => JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { containers: [{ name: 'app', image, ...(privileged ? { securityContext: { privileged: true } } : {}) }] },
  });

  it('admission, a scan, a ComplianceReport, a scheduled run and a delivery all show on every panel', async () => {
    const started = Date.now();
    // A schedule first: its run comes at the next minute boundary, so it waits while the rest runs.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScheduledScan', metadata: { name: 'every-minute' }, spec: { schedule: '* * * * *', complianceReportTemplate: { spec: { framework: 'pss-baseline', scope: { namespaces: [ns] } } } } }) });
    // A privileged pod from before the policy: the background audit finds it, the baseline fails it.
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: pod('legacy', true) });
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ScanPolicy', metadata: { name: policyName }, spec: { mode: 'Enforce', match: { namespaces: [ns] }, rules: [{ id: 'disallow-privileged' }] } }) });
    await waitFor('the webhook to deny a privileged pod (dry run)', async () => {
      const result = await kubectl(['create', '--dry-run=server', '-f', '-'], { namespace: ns, input: pod('dry', true), allowFail: true });
      return /denied the request.*disallow-privileged/s.test(result.stderr) ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    const denied = await kubectl(['create', '-f', '-'], { namespace: ns, input: pod('denied', true), allowFail: true });
    assert.match(denied.stderr, /disallow-privileged/, 'the privileged pod is denied');
    await kubectl(['create', '-f', '-'], { namespace: ns, input: pod('allowed', false) });
    await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify({ apiVersion: 'securestack.io/v1alpha1', kind: 'ComplianceReport', metadata: { name: 'baseline' }, spec: { framework: 'pss-baseline', scope: { namespaces: [ns] } } }) });
    // Workload scanning made the running image's ImageScan; the real Trivy scans it.
    const scan = await waitForPhase(ns, ownScanName(image), 'Completed', operator, 180_000);
    const fixableCritical = (scan.status?.summary as VulnerabilitySummary | undefined)?.fixableBySeverity?.critical ?? 0;
    assert.ok(fixableCritical > 0, 'the fixture image has a fixable critical vulnerability (test/fixtures/scan/expected.json)');
    await waitFor('a delivery to the receiver', () => Promise.resolve(receiver.requests.length > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor('the ScheduledScan\'s first run to finish', async () => {
      const scheduled = JSON.parse((await kubectl(['get', 'scheduledscan', 'every-minute', '-o', 'json'], { namespace: ns })).stdout) as ScheduledScan;
      return (scheduled.status?.recentRuns ?? []).some((run) => run.result === 'Succeeded') ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    const exercised = Date.now() - started;

    const server = prometheus;
    assert.ok(server);
    const values = { job: 'securestack', namespace: '.*', __rate_interval: '1m', datasource: 'prometheus' };
    const queries = panelQueries(loadDashboard()).map((query) => ({ ...query, expr: substitute(query.expr, values) }));
    let empty: string[] = [];
    // Bounded: at most 60 s (~60 rounds) for the last samples to be scraped.
    await waitFor('every dashboard panel query to return a series', async () => {
      empty = [];
      for (const { panel, refId, expr } of queries) {
        const answer = await server.query(expr);
        assert.equal(answer.status, 'success', `${panel} ${refId}: ${answer.error ?? ''}\n${expr}`);
        if ((answer.data?.result ?? []).length === 0) empty.push(`${panel} ${refId}: ${expr}`);
      }
      return empty.length === 0 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1_000 }).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nno data for:\n${empty.join('\n')}\n${operator.describe()}`);
    });

    // Every alert expression evaluates; in this healthy cluster exactly one fires: the running
    // image has fixable critical vulnerabilities, as many as its ImageScan counts.
    // Rendered for a release in the operator's namespace, which Prometheus puts on the target.
    const rules = renderedRuleGroups(home).flatMap((group) => group.rules);
    const firing: string[] = [];
    for (const rule of rules) {
      const answer = await server.query(rule.expr);
      assert.equal(answer.status, 'success', `${rule.alert}: ${answer.error ?? ''}\n${rule.expr}`);
      const result = answer.data?.result ?? [];
      if (result.length > 0) firing.push(`${rule.alert}${rule.alert === 'SecureStackFixableCriticalInRunningImages' ? ` ${result.map((series) => `${series.metric.namespace ?? ''}=${series.value[1]}`).join(',')}` : ''}`);
    }
    assert.deepEqual(firing, [`SecureStackFixableCriticalInRunningImages ${ns}=${fixableCritical}`]);
    console.log(`# observability: exercised the operator in ${exercised} ms, ${queries.length} panel queries and ${rules.length} alert expressions checked in ${Date.now() - started - exercised} ms`);
  });
});
