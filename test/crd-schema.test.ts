// Checks on the CRDs that need no cluster: the generated types are current, the examples and the
// invalid fixtures get the same verdict from ajv as from the API server (test/crds.test.ts proves
// the API server side), and the schemas are structural and bounded so CEL cost estimation and
// etcd's object size limit are never a surprise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { outputPath, renderTypes } from '../tools/generate-api';
import { loadCrds, validateSpec, validateValue, type CrdInfo, type SchemaNode } from '../operator/api/schema';
import { loadExamples, loadInvalidFixtures } from './support/crd-fixtures';

const crds = loadCrds();
const crdByKind = new Map(crds.map((c) => [c.kind, c]));

function crdOf(kind: string): CrdInfo {
  const crd = crdByKind.get(kind);
  assert.ok(crd, `no CRD for kind ${kind}`);
  return crd;
}

function prop(node: SchemaNode | undefined, ...names: string[]): SchemaNode {
  let cur = node;
  for (const n of names) cur = cur?.properties?.[n];
  assert.ok(cur, `schema has no ${names.join('.')}`);
  return cur;
}

describe('generated types', () => {
  it('types.generated.ts matches the CRDs', () => {
    const committed = fs.readFileSync(outputPath(), 'utf8');
    assert.ok(
      renderTypes() === committed,
      'operator/api/types.generated.ts is stale: run npm run gen (after npx tsc -p tsconfig.json) and commit the result',
    );
  });
});

describe('examples', () => {
  const examples = loadExamples();

  it('cover every kind, ScanPolicy in each mode and ScheduledScan with each template', () => {
    for (const crd of crds) assert.ok(examples.some((e) => e.object.kind === crd.kind), `no example of ${crd.kind}`);
    const modes = examples.filter((e) => e.object.kind === 'ScanPolicy').map((e) => (e.object.spec as { mode: string }).mode);
    assert.deepEqual([...new Set(modes)].sort(), ['Audit', 'Enforce', 'Warn']);
    const specs = examples.filter((e) => e.object.kind === 'ScheduledScan').map((e) => e.object.spec as Record<string, unknown>);
    assert.ok(specs.some((s) => s.imageScanTemplate), 'no ScheduledScan example with imageScanTemplate');
    assert.ok(specs.some((s) => s.complianceReportTemplate), 'no ScheduledScan example with complianceReportTemplate');
    assert.ok(specs.some((s) => s.runningImagesTemplate), 'no ScheduledScan example with runningImagesTemplate');
  });

  for (const example of examples) {
    it(`${example.file} (${example.object.kind} ${example.object.metadata.name}) passes validateSpec`, () => {
      assert.deepEqual(validateSpec(example.object.kind, example.object), { ok: true });
    });
  }
});

describe('invalid fixtures', () => {
  const fixtures = loadInvalidFixtures();

  it('at least 4 per kind, including a CEL case, and enum, pattern, required and bounds cases overall', () => {
    for (const crd of crds) {
      const mine = fixtures.filter((f) => f.object.kind === crd.kind);
      assert.ok(mine.length >= 4, `${crd.kind}: only ${mine.length} invalid fixtures`);
      assert.ok(mine.some((f) => f.case === 'cel'), `${crd.kind}: no CEL fixture`);
      assert.ok(mine.every((f) => f.kindDir === crd.kind.toLowerCase()), `${crd.kind}: fixture in the wrong folder`);
    }
    for (const c of ['enum', 'pattern', 'required', 'bounds', 'cel']) {
      assert.ok(fixtures.some((f) => f.case === c), `no "${c}" fixture`);
    }
  });

  for (const fixture of fixtures) {
    if (fixture.case === 'cel') {
      // CEL is only evaluated by the API server; ajv passing proves the fixture exercises the CEL
      // rule and not a schema check (the API server skips CEL when the schema check fails).
      it(`${fixture.file} passes ajv (its CEL rule is enforced by the API server only)`, () => {
        assert.deepEqual(validateSpec(fixture.object.kind, fixture.object), { ok: true });
      });
    } else {
      it(`${fixture.file} fails validateSpec at ${fixture.field}`, () => {
        const res = validateSpec(fixture.object.kind, fixture.object);
        assert.equal(res.ok, false, 'ajv accepted an object the API server rejects');
        const errors = res.ok ? [] : res.errors;
        assert.ok(
          errors.some((e) => e.startsWith(`${fixture.field}: `)),
          `no error names ${fixture.field}; got:\n${errors.join('\n')}`,
        );
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Structure

interface Visit {
  node: SchemaNode;
  path: string;
}

function walk(node: SchemaNode, path: string, out: Visit[] = []): Visit[] {
  out.push({ node, path });
  for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, path ? `${path}.${k}` : k, out);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`, out);
  if (node.items) walk(node.items, `${path}[]`, out);
  return out;
}

/** Problems that make a schema non-structural or unbounded, one message per problem. */
function structuralProblems(node: SchemaNode, at: string): string[] {
  const problems: string[] = [];
  const bad = (msg: string) => problems.push(`${at || '<root>'}: ${msg}`);
  if (!node.type) bad('no type');
  if (node.type === 'array') {
    if (!node.items) bad('array without items');
    if (node.maxItems === undefined) bad('array without maxItems');
  }
  // The API server checks the root apiVersion and kind itself; CEL never sees them unbounded.
  const typeMeta = at === 'apiVersion' || at === 'kind';
  if (node.type === 'string' && node.maxLength === undefined && !typeMeta) bad('string without maxLength');
  if (node.properties && node.additionalProperties !== undefined) bad('properties together with additionalProperties');
  const freeForm = typeof node.additionalProperties === 'object' || node['x-kubernetes-preserve-unknown-fields'];
  if (node.type === 'object' && freeForm && node.maxProperties === undefined) bad('open object without maxProperties');
  if (node['x-kubernetes-list-type'] === 'map') problems.push(...mapKeyProblems(node, at));
  for (const rule of node['x-kubernetes-validations'] ?? []) {
    if (!rule.message && !rule.messageExpression) bad(`CEL rule without a message: ${rule.rule}`);
    if (rule.fieldPath !== undefined && !rule.fieldPath.startsWith('.')) bad(`fieldPath must start with ".": ${rule.fieldPath}`);
  }
  return problems;
}

function mapKeyProblems(node: SchemaNode, at: string): string[] {
  const keys = node['x-kubernetes-list-map-keys'] ?? [];
  const item = node.items;
  if (keys.length === 0 || item?.type !== 'object') return [`${at}: list-type map needs object items and map keys`];
  return keys
    .filter((k) => !(item.required ?? []).includes(k) && item.properties?.[k]?.default === undefined)
    .map((k) => `${at}: map key ${k} is neither required nor defaulted`);
}

/** Resolves a printer column's JSONPath (.status.summary.critical, .status.conditions[?(...)].status) in the schema. */
function resolveJsonPath(root: SchemaNode, jsonPath: string): SchemaNode | undefined {
  let cur: SchemaNode | undefined = root;
  for (const seg of jsonPath.replace(/^\./, '').replace(/\[[^\]]*\]/g, '[]').split('.')) {
    const [name, ...indexes] = seg.split('[]');
    cur = cur?.properties?.[name];
    for (let i = 0; i < indexes.length; i++) cur = cur?.items;
  }
  return cur;
}

const COLUMN_TYPES: Record<string, (n: SchemaNode) => boolean> = {
  string: (n) => n.type === 'string',
  integer: (n) => n.type === 'integer',
  number: (n) => n.type === 'number' || n.type === 'integer',
  boolean: (n) => n.type === 'boolean',
  date: (n) => n.type === 'string' && n.format === 'date-time',
};

describe('CRD structure', () => {
  for (const crd of crds) {
    describe(crd.kind, () => {
      it('is named, grouped and discoverable as agreed', () => {
        assert.equal(crd.group, 'securestack.io');
        assert.equal(crd.version, 'v1alpha1');
        assert.equal(crd.name, `${crd.plural}.${crd.group}`);
        assert.equal(crd.file, `${crd.name}.yaml`);
        assert.equal(crd.scope, crd.kind === 'ScanPolicy' ? 'Cluster' : 'Namespaced');
        assert.ok(crd.categories.includes('securestack'));
        assert.equal(crd.shortNames.length, 1);
        assert.deepEqual(crd.raw.spec.versions.length, 1);
        assert.deepEqual((crd.raw.spec.versions[0] as { subresources?: unknown }).subresources, { status: {} });
      });

      it('is structural, and every array, string and open object is bounded', () => {
        const problems = walk(crd.schema, '').flatMap((v) => structuralProblems(v.node, v.path));
        assert.deepEqual(problems, []);
      });

      it('leaves metadata to the API server', () => {
        assert.deepEqual(prop(crd.schema, 'metadata'), { type: 'object' });
        assert.ok((crd.schema.required ?? []).includes('spec'));
      });

      it('has only defaults that are valid for their own field', () => {
        const problems = walk(crd.schema, '')
          .filter((v) => v.node.default !== undefined)
          .flatMap((v) => validateValue(v.node, v.node.default, v.path));
        assert.deepEqual(problems, []);
      });

      it('has a conventional status: observedGeneration, conditions keyed by type, a phase enum', () => {
        const status = prop(crd.schema, 'status');
        assert.equal(prop(status, 'observedGeneration').type, 'integer');
        assert.ok((prop(status, 'phase').enum ?? []).length > 0, 'phase has no enum');
        const conditions = prop(status, 'conditions');
        assert.equal(conditions['x-kubernetes-list-type'], 'map');
        assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
        // One Condition shape across kinds: the generator emits one shared type for it.
        assert.deepEqual(conditions, prop(crdOf('ImageScan').schema, 'status', 'conditions'));
      });

      it('has printer columns that point at existing fields of the right type, and Age last', () => {
        const columns = crd.printerColumns;
        assert.equal(columns.at(-1)?.jsonPath, '.metadata.creationTimestamp');
        for (const col of columns.slice(0, -1)) {
          const node = resolveJsonPath(crd.schema, col.jsonPath);
          assert.ok(node, `${col.name}: ${col.jsonPath} resolves to nothing`);
          assert.ok(COLUMN_TYPES[col.type]?.(node), `${col.name}: column type ${col.type} does not fit the field`);
        }
      });
    });
  }

  it('ScheduledScan templates embed the ImageScan and ComplianceReport spec schemas unchanged', () => {
    const spec = prop(crdOf('ScheduledScan').schema, 'spec');
    assert.ok(
      isDeepStrictEqual(prop(spec, 'imageScanTemplate', 'spec'), prop(crdOf('ImageScan').schema, 'spec')),
      'imageScanTemplate.spec differs from the ImageScan spec schema; copy it over',
    );
    assert.ok(
      isDeepStrictEqual(prop(spec, 'complianceReportTemplate', 'spec'), prop(crdOf('ComplianceReport').schema, 'spec')),
      'complianceReportTemplate.spec differs from the ComplianceReport spec schema; copy it over',
    );
    // The running-images options are the ImageScan's (all but the image), and the scope is the
    // ComplianceReport's but for its descriptions.
    const running: Record<string, unknown> = prop(spec, 'runningImagesTemplate', 'spec').properties ?? {};
    const imageProperties: Record<string, unknown> = prop(crdOf('ImageScan').schema, 'spec').properties ?? {};
    for (const [name, schema] of Object.entries(running)) {
      if (name === 'scope') continue;
      assert.ok(isDeepStrictEqual(schema, imageProperties[name]), `runningImagesTemplate.spec.${name} differs from the ImageScan's ${name}; copy it over`);
    }
    assert.deepEqual(Object.keys(running).sort(), [...Object.keys(imageProperties).filter((name) => name !== 'image'), 'scope'].sort());
    const withoutDescriptions = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, entry: unknown) => (key === 'description' ? undefined : entry)));
    assert.deepEqual(withoutDescriptions(running.scope), withoutDescriptions(prop(crdOf('ComplianceReport').schema, 'spec', 'scope')));
  });

  it('applies API-server-style defaults in validateSpec, and flags unknown fields and duplicate keys', () => {
    const scan = { apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 'x' }, spec: { image: 'nginx', timeout: null } };
    assert.deepEqual(validateSpec('ImageScan', scan), { ok: true }, 'a null field is pruned before defaulting');
    const res = validateSpec('ImageScan', { ...scan, spec: { image: 'nginx', severities: ['HIGH', 'HIGH'], bogus: 1 } });
    assert.equal(res.ok, false);
    assert.deepEqual(res.ok ? [] : res.errors.sort(), ['spec.bogus: unknown field', 'spec.severities[1]: Duplicate value: "HIGH"']);
  });
});
