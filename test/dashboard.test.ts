// The shipped Grafana dashboard and the alert rules, checked without a cluster: every panel is a
// Prometheus panel on the ${datasource} variable with a description and queries, the template
// variables are the documented ones, and every metric a panel or an alert reads is one the
// operator really exports. test/observability.test.ts runs the same queries on a real Prometheus.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { dataPanels, exportedMetricNames, loadDashboard, metricsIn, panelQueries, substitute, unknownMetrics } from './support/dashboard';

const root = path.resolve(__dirname, '..', '..');
const datasource = { type: 'prometheus', uid: '${datasource}' };

describe('the Grafana dashboard', () => {
  const dashboard = loadDashboard();

  it('has the datasource, job and namespace variables, all on the chosen Prometheus', () => {
    const variables = dashboard.templating.list;
    assert.deepEqual(variables.map((variable) => variable.name), ['datasource', 'job', 'namespace']);
    const [source, job, namespace] = variables;
    assert.deepEqual([source?.type, source?.query], ['datasource', 'prometheus']);
    for (const variable of [job, namespace]) {
      assert.equal(variable?.type, 'query');
      assert.deepEqual(variable.datasource, datasource);
    }
    // "All" must be a regular expression the queries' =~ matchers accept.
    assert.deepEqual([namespace?.includeAll, namespace?.multi, namespace?.allValue], [true, true, '.*']);
  });

  it('every panel queries ${datasource}, has a title, a description and queries with unique refIds', () => {
    const panels = dataPanels(dashboard);
    assert.ok(panels.length >= 30, `expected the six rows' panels, found ${panels.length}`);
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.deepEqual(ids, [...new Set(ids)], 'panel ids are unique');
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, datasource, panel.title);
      assert.ok(panel.title && (panel.description ?? '').length > 20, `${panel.title}: a description says what it shows`);
      const targets = panel.targets ?? [];
      assert.ok(targets.length > 0, `${panel.title} has a query`);
      assert.deepEqual(targets.map((target) => target.refId), [...new Set(targets.map((target) => target.refId))], panel.title);
      for (const target of targets) assert.deepEqual(target.datasource, datasource, `${panel.title} ${target.refId}`);
    }
  });

  it('has the rows the product needs, in order', () => {
    const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
    assert.deepEqual(rows, ['Admission', 'Scanning', 'Compliance', 'Schedules', 'Notifications', 'Operator health']);
  });

  it('reads only metrics the operator exports, and scopes every SecureStack series to $job', () => {
    const exported = exportedMetricNames();
    // The inventory itself is real: a few names every part of the operator registers.
    for (const name of ['securestack_admission_requests_total', 'securestack_webhook_certificate_expiry_timestamp_seconds', 'securestack_running_image_vulnerabilities', 'securestack_scan_duration_seconds_bucket']) {
      assert.ok(exported.has(name), `${name} in the inventory`);
    }
    for (const { panel, refId, expr } of panelQueries(dashboard)) {
      assert.deepEqual(unknownMetrics(expr, exported), [], `${panel} ${refId}: ${expr}`);
      const selectors = [...expr.matchAll(/\{([^}]*)\}/g)].map((match) => match[1] ?? '');
      assert.ok(selectors.length > 0 && selectors.every((selector) => selector.includes('job=~"$job"')), `${panel} ${refId} selects job=~"$job" everywhere: ${expr}`);
    }
  });

  it('docs/observability.md describes every panel with its queries', () => {
    const doc = readFileSync(path.join(root, 'docs', 'observability.md'), 'utf8');
    for (const panel of dataPanels(dashboard)) {
      assert.ok(doc.includes(`| ${panel.title} | ${panel.description ?? ''} |`), `docs/observability.md has a row for the panel "${panel.title}" with its description`);
      // In a Markdown table a | inside code is written \|.
      for (const target of panel.targets ?? []) assert.ok(doc.includes(`\`${target.expr.replace(/\|/g, '\\|')}\``), `docs/observability.md shows ${panel.title} ${target.refId}: ${target.expr}`);
    }
  });

  it('the metric checker finds names, regular expressions and unknown metrics', () => {
    const exported = new Set(['securestack_a_total', 'securestack_webhook_x', 'securestack_report_x']);
    assert.deepEqual(metricsIn('sum by (job, le) (rate(securestack_a_total{job=~"$job", result="x"}[$__rate_interval])) / up'), ['securestack_a_total', 'up']);
    assert.deepEqual(unknownMetrics('rate(securestack_a_total[1m]) + securestack_b', exported), ['securestack_b']);
    assert.deepEqual(unknownMetrics('{__name__=~"securestack_(webhook|report)_x"}', exported), []);
    assert.deepEqual(unknownMetrics('{__name__=~"securestack_(webhook|nope)_x"}', exported), ['~securestack_(webhook|nope)_x']);
  });

  it('substitutes variables as Grafana does and refuses one it has no value for', () => {
    assert.equal(substitute('x{job=~"$job", ns=~"${namespace}"}[$__rate_interval] "$1"', { job: 'j', namespace: '.*', __rate_interval: '1m' }), 'x{job=~"j", ns=~".*"}[1m] "$1"');
    assert.throws(() => substitute('x{a="$nope"}', {}), /no value for \$nope/);
  });
});

describe('the alert rules template', () => {
  it('reads only metrics the operator exports', () => {
    const exported = exportedMetricNames();
    const template = readFileSync(path.join(root, 'charts', 'securestack', 'templates', 'prometheusrule.yaml'), 'utf8');
    const expressions = [...template.matchAll(/^\s+expr: (.*)$/gm)].map((match) => (match[1] ?? '').replace(/\{\{[^}]*\}\}/g, ''));
    assert.ok(expressions.length >= 9, `expected the alerts' expressions, found ${expressions.length}`);
    for (const expr of expressions) assert.deepEqual(unknownMetrics(expr, exported), [], expr);
  });
});
