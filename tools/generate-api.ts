// Generates operator/api/types.generated.ts from crds/*.yaml, so the CRD schemas stay the one
// source of truth for the resource shapes. Run: npx tsc -p tsconfig.json && npm run gen.
// test/crd-schema.test.ts re-runs renderTypes() in memory and fails when the committed file is stale.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadCrds, packageRoot, type CrdInfo, type SchemaNode } from '../operator/api/schema';

/**
 * Names for object types that a path-derived name would make clumsy or that several places
 * share. Keys are `<Kind>.<path>` or `*.<path suffix>`; `[]` marks array items. Objects not
 * listed get their parent's name plus the property name. Two places may share a name only if
 * their schemas are equal (descriptions of the place itself aside); the generator checks it.
 */
const TYPE_NAMES: Record<string, string> = {
  '*.conditions[]': 'Condition',
  '*.namespaceSelector': 'LabelSelector',
  '*.objectSelector': 'LabelSelector',
  '*.matchExpressions[]': 'LabelSelectorRequirement',
  '*.imagePullSecrets[]': 'LocalObjectReference',
  'ImageScan.spec.scanner': 'ScannerConfig',
  'ImageScan.status.scanner': 'ScannerInfo',
  'ImageScan.status.summary': 'VulnerabilitySummary',
  'ImageScan.status.topFindings[]': 'VulnerabilityFinding',
  'ImageScan.status.sbomRef': 'SBOMRef',
  'ComplianceReport.spec.scope': 'ComplianceScope',
  'ComplianceReport.status.summary': 'ComplianceSummary',
  'ComplianceReport.status.controls[]': 'ControlResult',
  'ComplianceReport.status.controls[].examples[]': 'ObjectRef',
  'ScanPolicy.spec.match': 'ResourceFilter',
  'ScanPolicy.spec.exclude': 'ResourceFilter',
  'ScanPolicy.spec.match.kinds[]': 'GroupKind',
  'ScanPolicy.spec.exclude.kinds[]': 'GroupKind',
  'ScanPolicy.spec.rules[]': 'RuleConfig',
  'ScanPolicy.spec.customRules[]': 'CustomRule',
  'ScanPolicy.spec.exceptions[]': 'PolicyException',
  'ScanPolicy.spec.vulnerabilityGate': 'VulnerabilityGate',
  'ScanPolicy.status.audit': 'PolicyAudit',
  'ScanPolicy.status.audit.violations[]': 'RuleViolations',
  'ScheduledScan.spec.imageScanTemplate': 'ImageScanTemplate',
  'ScheduledScan.spec.complianceReportTemplate': 'ComplianceReportTemplate',
  'ScheduledScan.spec.imageScanTemplate.metadata': 'TemplateMetadata',
  'ScheduledScan.spec.complianceReportTemplate.metadata': 'TemplateMetadata',
  'ScheduledScan.spec.imageScanTemplate.spec': 'ImageScanSpec',
  'ScheduledScan.spec.complianceReportTemplate.spec': 'ComplianceReportSpec',
  'ScheduledScan.status.active[]': 'RunRef',
};

interface Place {
  kind: string;
  /** Dotted path from the resource root, `[]` for array items, e.g. spec.rules[]. */
  path: string;
  /** Name of the enclosing generated type, for path-derived names. */
  parent: string;
  /** Property name (or property name + Item for array items), for path-derived names. */
  prop: string;
}

/** Collects named interfaces in first-use order and renders them. */
class TypeRegistry {
  private readonly schemas = new Map<string, SchemaNode>();
  private readonly where = new Map<string, string>();
  private readonly rendered: string[] = [];

  /** Declares a name for a schema; the same name for a different schema is a bug in TYPE_NAMES. */
  name(name: string, node: SchemaNode, place: string): { fresh: boolean } {
    const shape = withoutDescription(node);
    const known = this.schemas.get(name);
    if (known === undefined) {
      this.schemas.set(name, shape);
      this.where.set(name, place);
      return { fresh: true };
    }
    if (!isDeepStrictEqual(known, shape)) {
      throw new Error(`type ${name} is used for different schemas at ${this.where.get(name)} and ${place}; rename one in TYPE_NAMES or make the CRD schemas equal`);
    }
    return { fresh: false };
  }

  add(code: string): void {
    this.rendered.push(code);
  }

  /** A place for a declaration whose members are still being generated, so output is pre-order. */
  reserve(): number {
    return this.rendered.push('') - 1;
  }

  fill(slot: number, code: string): void {
    this.rendered[slot] = code;
  }

  output(): string[] {
    return this.rendered;
  }
}

function withoutDescription(node: SchemaNode): SchemaNode {
  const copy = { ...node };
  delete copy.description;
  return copy;
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function typeNameFor(place: Place): string {
  return (
    TYPE_NAMES[`${place.kind}.${place.path}`] ??
    Object.entries(TYPE_NAMES).find(([k]) => k.startsWith('*.') && (place.path === k.slice(2) || place.path.endsWith(`.${k.slice(2)}`)))?.[1] ??
    `${place.parent}${pascal(place.prop)}`
  );
}

function docComment(lines: string[], indent: string): string {
  const text = lines.filter((l) => l.length > 0);
  if (text.length === 0) return '';
  const wrapped = text.flatMap((l) => wrap(l.replace(/\*\//g, '*\\/'), 96 - indent.length));
  if (wrapped.length === 1) return `${indent}/** ${wrapped[0]} */\n`;
  return `${indent}/**\n${wrapped.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(/\s+/)) {
    if (cur && cur.length + 1 + word.length > width) {
      out.push(cur);
      cur = word;
    } else {
      cur = cur ? `${cur} ${word}` : word;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Doc lines for a property: its description plus facts a reader of the type cannot see. */
function propertyDoc(node: SchemaNode): string[] {
  const lines = [node.description ?? ''];
  if (node.format) lines.push(`Format: ${node.format}.`);
  if (node.default !== undefined) lines.push(`@default ${JSON.stringify(node.default)}`);
  return lines;
}

/** A TypeScript literal in the file's quote style. */
function literal(v: unknown): string {
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v);
}

function tsType(node: SchemaNode, place: Place, reg: TypeRegistry): string {
  if (node.enum) return node.enum.map(literal).join(' | ');
  switch (node.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return arrayType(node, place, reg);
    case 'object':
      return objectType(node, place, reg);
    default:
      throw new Error(`${place.kind}.${place.path}: schema node without a supported type`);
  }
}

function arrayType(node: SchemaNode, place: Place, reg: TypeRegistry): string {
  if (!node.items) throw new Error(`${place.kind}.${place.path}: array without items`);
  const itemPlace = { ...place, path: `${place.path}[]`, prop: `${place.prop}Item` };
  const item = tsType(node.items, itemPlace, reg);
  return item.includes('|') ? `(${item})[]` : `${item}[]`;
}

function objectType(node: SchemaNode, place: Place, reg: TypeRegistry): string {
  if (node.properties) return namedInterface(typeNameFor(place), node, place, reg);
  if (typeof node.additionalProperties === 'object') {
    const value = tsType(node.additionalProperties, { ...place, path: `${place.path}.*`, prop: `${place.prop}Value` }, reg);
    return `Record<string, ${value}>`;
  }
  // Free-form (x-kubernetes-preserve-unknown-fields) objects: each consumer validates its own shape.
  return 'Record<string, unknown>';
}

function namedInterface(name: string, node: SchemaNode, place: Place, reg: TypeRegistry): string {
  if (!reg.name(name, node, `${place.kind}.${place.path}`).fresh) return name;
  const slot = reg.reserve();
  const required = new Set(node.required ?? []);
  const members = Object.entries(node.properties ?? {}).map(([prop, child]) => {
    const childPlace: Place = { kind: place.kind, path: place.path ? `${place.path}.${prop}` : prop, parent: name, prop };
    const optional = required.has(prop) ? '' : '?';
    return `${docComment(propertyDoc(child), '  ')}  ${prop}${optional}: ${tsType(child, childPlace, reg)};\n`;
  });
  reg.fill(slot, `${docComment([node.description ?? ''], '')}export interface ${name} {\n${members.join('')}}\n`);
  return name;
}

function resourceTypes(crd: CrdInfo, reg: TypeRegistry): void {
  const root = crd.schema;
  const props = root.properties ?? {};
  const slot = reg.reserve();
  if (!props.spec) throw new Error(`${crd.file}: schema has no spec`);
  const spec = tsType(props.spec, { kind: crd.kind, path: 'spec', parent: crd.kind, prop: 'spec' }, reg);
  const status = props.status ? tsType(props.status, { kind: crd.kind, path: 'status', parent: crd.kind, prop: 'status' }, reg) : undefined;
  const specOptional = (root.required ?? []).includes('spec') ? '' : '?';
  reg.fill(
    slot,
    `${docComment([root.description ?? '', `${crd.scope === 'Cluster' ? 'Cluster-scoped' : 'Namespaced'}; plural ${crd.plural}, short names ${crd.shortNames.join(', ')}.`], '')}` +
      `export interface ${crd.kind} {\n` +
      `  apiVersion: typeof apiVersion;\n` +
      `  kind: '${crd.kind}';\n` +
      `  metadata: KubeObjectMeta;\n` +
      `  spec${specOptional}: ${spec};\n` +
      (status ? `  status?: ${status};\n` : '') +
      `}\n`,
  );
  reg.add(
    `export interface ${crd.listKind} {\n` +
      `  apiVersion: typeof apiVersion;\n` +
      `  kind: '${crd.listKind}';\n` +
      `  metadata: KubeListMeta;\n` +
      `  items: ${crd.kind}[];\n` +
      `}\n`,
  );
}

const HEADER = `// Code generated by tools/generate-api.ts from crds/*.yaml. DO NOT EDIT.
// The CRD YAML files are the source of truth. To regenerate after changing them:
//   npx tsc -p tsconfig.json && npm run gen
`;

const KUBE_META = `/** The ObjectMeta fields SecureStack reads or writes. */
export interface KubeObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeListMeta {
  resourceVersion?: string;
  continue?: string;
}
`;

function constants(crds: CrdInfo[]): string {
  const groups = new Set(crds.map((c) => `${c.group}/${c.version}`));
  if (groups.size !== 1) throw new Error(`all CRDs must share one group and version, found ${[...groups].join(', ')}`);
  const { group, version } = crds[0];
  const entries = (f: (c: CrdInfo) => string) => crds.map((c) => `  ${c.kind}: ${f(c)},\n`).join('');
  return (
    `export const group = '${group}';\n` +
    `export const version = '${version}';\n` +
    `export const apiVersion = '${group}/${version}';\n\n` +
    crds.map((c) => `export const ${c.kind}Kind = '${c.kind}';\n`).join('') +
    `\n/** Kind name by kind. */\nexport const kinds = {\n${entries((c) => `'${c.kind}'`)}} as const;\n\n` +
    `export type SecureStackKind = keyof typeof kinds;\n\n` +
    `/** Resource (plural) name by kind, as used in API paths and RBAC rules. */\n` +
    `export const plurals = {\n${entries((c) => `'${c.plural}'`)}} as const;\n\n` +
    `/** Everything about a kind's API registration that code needs. */\n` +
    `export const resources = {\n${entries(
      (c) =>
        `{ kind: '${c.kind}', listKind: '${c.listKind}', plural: '${c.plural}', singular: '${c.singular}', ` +
        `shortNames: [${c.shortNames.map((s) => `'${s}'`).join(', ')}], namespaced: ${c.scope === 'Namespaced'} }`,
    )}} as const;\n`
  );
}

function resourceUnion(crds: CrdInfo[]): string {
  return (
    `/** Resource type by kind. */\nexport interface ResourceByKind {\n${crds.map((c) => `  ${c.kind}: ${c.kind};\n`).join('')}}\n\n` +
    `export type SecureStackResource = ResourceByKind[SecureStackKind];\n`
  );
}

/** The full text of types.generated.ts for the CRDs in crds/. */
export function renderTypes(crds: CrdInfo[] = loadCrds()): string {
  // Kinds come in file order; a template that embeds another kind's spec (ScheduledScan) maps to
  // that kind's type through TYPE_NAMES whichever comes first, and the registry proves them equal.
  const reg = new TypeRegistry();
  for (const crd of crds) resourceTypes(crd, reg);
  return [HEADER, constants(crds), KUBE_META, ...reg.output(), resourceUnion(crds)].join('\n');
}

export function outputPath(): string {
  return path.join(packageRoot(), 'operator', 'api', 'types.generated.ts');
}

if (require.main === module) {
  const file = outputPath();
  fs.writeFileSync(file, renderTypes());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
