// Renders charts/securestack/README.md from values.yaml, as helm-docs does: every value with its
// type, default and the `# --` comment above it, so the reference cannot drift from the chart.
// Run: npm run build && npm run gen-chart-readme. test/chart.test.ts fails when the committed file
// differs from renderChartReadme().
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { packageRoot } from '../operator/api/schema';

export function chartDir(): string {
  return path.join(packageRoot(), 'charts', 'securestack');
}

export interface Row {
  key: string;
  type: string;
  value: unknown;
  description: string;
}

/**
 * The `# --` comment of each key, by dotted path: the comment lines right above the key, starting
 * at the one that begins with `# --` (helm-docs' convention; plain comments above it are notes).
 */
export function valueComments(text: string): Map<string, string> {
  const comments = new Map<string, string>();
  const stack: Array<{ indent: number; key: string }> = [];
  let pending: string[] = [];
  for (const line of text.split('\n')) {
    const comment = /^(\s*)#\s?(.*)$/.exec(line);
    if (comment) {
      const body = comment[2] ?? '';
      if (body.startsWith('-- ')) pending = [body.slice(3)];
      else if (pending.length > 0) pending.push(body.trim());
      continue;
    }
    const key = /^(\s*)([A-Za-z0-9_]+):/.exec(line);
    if (!key) {
      pending = [];
      continue;
    }
    const indent = (key[1] ?? '').length;
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: key[2] ?? '' });
    if (pending.length > 0) comments.set(stack.map((entry) => entry.key).join('.'), pending.join(' ').replace(/\s+/g, ' ').trim());
    pending = [];
  }
  return comments;
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
}

/** A value's description in values.schema.json, for keys values.yaml does not comment with `# --`. */
function schemaDescription(schema: SchemaNode, dotted: string): string {
  let node: SchemaNode | undefined = schema;
  for (const key of dotted.split('.')) node = node?.properties?.[key];
  return node?.description ?? '';
}

/** Leaves (scalars, lists, empty objects) and every described key, in file order. */
export function rows(values: Record<string, unknown>, comments: Map<string, string>, schema: SchemaNode, prefix = ''): Row[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const dotted = prefix ? `${prefix}.${key}` : key;
    const commented = comments.get(dotted);
    const description = commented ?? schemaDescription(schema, dotted);
    const nested = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
    // An object is one row only when values.yaml describes it as a whole (issuerRef, resources).
    if (nested && commented === undefined) return rows(value as Record<string, unknown>, comments, schema, dotted);
    if (nested) return [{ key: dotted, type: 'object', value, description }];
    return [{ key: dotted, type: typeOf(value), value, description }];
  });
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Every row of the values table, for tests. */
export function chartValueRows(): Row[] {
  const text = fs.readFileSync(path.join(chartDir(), 'values.yaml'), 'utf8');
  const schema = JSON.parse(fs.readFileSync(path.join(chartDir(), 'values.schema.json'), 'utf8')) as SchemaNode;
  return rows(yaml.load(text) as Record<string, unknown>, valueComments(text), schema);
}

export function renderChartReadme(): string {
  const chart = yaml.load(fs.readFileSync(path.join(chartDir(), 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string; description?: string };
  const table = chartValueRows().map((row) => `| \`${row.key}\` | ${row.type} | \`${cell(JSON.stringify(row.value))}\` | ${cell(row.description)} |`);
  return [
    `# ${chart.name}`,
    '',
    `${chart.description ?? ''} Chart version ${chart.version}, SecureStack ${chart.appVersion}.`,
    '',
    'Generated from `values.yaml` by `npm run gen-chart-readme`; `values.schema.json` checks every value',
    'at `helm install` and `helm upgrade`, naming the one that is wrong.',
    '',
    '```sh',
    'kubectl apply --server-side -f crds/            # CRDs first: Helm installs crds/ once and never upgrades them',
    'helm install securestack ./charts/securestack --namespace securestack-system --create-namespace',
    '```',
    '',
    'See the repository README for the quick start, docs/ for each feature.',
    '',
    '## Values',
    '',
    '| Key | Type | Default | Description |',
    '|---|---|---|---|',
    ...table,
    '',
  ].join('\n');
}

export function chartReadmePath(): string {
  return path.join(chartDir(), 'README.md');
}

if (require.main === module) {
  fs.writeFileSync(chartReadmePath(), renderChartReadme());
  console.log(`wrote ${path.relative(process.cwd(), chartReadmePath())}`);
}
