// The Grafana dashboard the chart ships (charts/securestack/dashboards/securestack.json), read the
// way Grafana reads it: its panels' Prometheus queries and its template variables, plus the
// metric names the operator really exports (from operator/ sources) for checking queries against.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

// Compiled to dist/test/support/, three levels below the repository root.
const root = path.resolve(__dirname, '..', '..', '..');
export const dashboardFile = path.join(root, 'charts', 'securestack', 'dashboards', 'securestack.json');

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export function loadDashboard(file = dashboardFile): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel that is not a row, rows' nested panels included, in order. */
export function dataPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? panel.panels ?? [] : [panel]));
}

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function panelQueries(dashboard: Dashboard): PanelQuery[] {
  return dataPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, refId: target.refId, expr: target.expr })));
}

/**
 * A query as Grafana sends it: `$name` and `${name}` replaced from `values`. A variable with no
 * value is an error (the test must know every one); `$1` (label_replace) is not a variable.
 */
export function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)\}|\$([A-Za-z_]\w*)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${whole} in ${expr}`);
    return value;
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Metric names the operator registers: every `name: 'securestack_...'` in operator/, the
 * certificate metrics for each `purpose: '...'` of the serving certificates, histogram series
 * suffixes, and what prom-client's default metrics and Prometheus itself add (`up`).
 */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>(['up', 'process_resident_memory_bytes', 'process_cpu_seconds_total']);
  for (const file of sourceFiles(path.join(root, 'operator'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/name: '(securestack_[a-z_]+)'/g)) names.add(match[1] ?? '');
    const histograms = [...text.matchAll(/new Histogram\(\{\s*name: '(securestack_[a-z_]+)'/g)].map((match) => match[1] ?? '');
    for (const histogram of histograms) for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${histogram}${suffix}`);
    for (const match of text.matchAll(/purpose: '([a-z]+)'/g)) {
      names.add(`securestack_${match[1] ?? ''}_certificate_expiry_timestamp_seconds`);
      names.add(`securestack_${match[1] ?? ''}_certificate_rotations_total`);
    }
  }
  return names;
}

/** PromQL words that are functions, keywords or label names, never metric names. */
const notMetrics = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
  'rate', 'increase', 'irate', 'delta', 'histogram_quantile', 'label_replace', 'label_values', 'max_over_time', 'min_over_time', 'absent', 'time', 'vector', 'le',
]);

/**
 * The metric names a PromQL expression reads: bare selectors (`name{...}` or `name[...]`) and the
 * regular expressions of `__name__=~"..."` matchers (returned as `~regex`). Label names inside
 * braces and grouping lists are skipped.
 */
export function metricsIn(expr: string): string[] {
  const found = new Set<string>();
  for (const match of expr.matchAll(/__name__=~"([^"]+)"/g)) found.add(`~${match[1] ?? ''}`);
  // Drop label matchers, range windows, grouping clauses and string literals: they hold label
  // names, values and variables, not metric names.
  const bare = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  for (const match of bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const word = match[1] ?? '';
    if (!notMetrics.has(word) && !/^\d/.test(word) && /^[a-z_:]+$/.test(word) && (word.includes('_') || word === 'up')) found.add(word);
  }
  return [...found];
}

/** The metric references of `expr` that no exported metric satisfies. */
export function unknownMetrics(expr: string, exported: ReadonlySet<string>): string[] {
  return metricsIn(expr).filter((name) => {
    if (!name.startsWith('~')) return !exported.has(name);
    const pattern = new RegExp(`^(?:${name.slice(1)})$`);
    // Every alternative of the regular expression must name a real metric, not just one.
    const alternatives = /\(([^()]+)\)/.exec(name)?.[1]?.split('|') ?? [''];
    return alternatives.some((alternative) => ![...exported].some((metric) => pattern.test(metric) && (alternative === '' || metric.includes(alternative))));
  });
}
