// Runtime access to the CRD schemas in crds/*.yaml, the single source of truth for the shapes of
// the four SecureStack resources, and ajv validators built from them.
//
// What ajv checks here is what the API server checks from the OpenAPI part of the schema: types,
// required fields, enums, patterns, bounds, formats, unknown fields and duplicate keys in
// x-kubernetes-list-type map/set lists. CEL rules (x-kubernetes-validations) are NOT evaluated:
// ajv has no CEL interpreter, and the API server enforces them on every write. Code that needs a
// cross-field guarantee before talking to the API server has to check it itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Ajv, { type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

/** The subset of a CRD's openAPIV3Schema (JSONSchemaProps) this project uses. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
  [extension: `x-kubernetes-${string}`]: unknown;
}

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}

/** One CRD as read from crds/, reduced to what code and tests need. */
export interface CrdInfo {
  file: string;
  name: string;
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  scope: 'Namespaced' | 'Cluster';
  schema: SchemaNode;
  printerColumns: PrinterColumn[];
  /** The raw parsed YAML, for checks on fields this interface does not model. */
  raw: CrdDocument;
}

interface CrdDocument {
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      storage: boolean;
      schema: { openAPIV3Schema: SchemaNode };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
}

export type ValidationResult = { ok: true } | { ok: false; errors: string[] };

/**
 * The folder holding package.json and crds/, found by walking up from this file so it works both
 * from operator/api (ts sources) and dist/operator/api (compiled). SECURESTACK_ROOT overrides it
 * for installs that lay files out differently.
 */
export function packageRoot(): string {
  const override = process.env.SECURESTACK_ROOT;
  if (override) return path.resolve(override);
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'crds'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package root (package.json and crds/) above ${__dirname}`);
    dir = parent;
  }
}

export function crdDir(): string {
  return path.join(packageRoot(), 'crds');
}

/** Every CRD in crds/, sorted by file name so generated output is stable. */
export function loadCrds(dir: string = crdDir()): CrdInfo[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => toCrdInfo(f, yaml.load(fs.readFileSync(path.join(dir, f), 'utf8')) as CrdDocument));
}

function toCrdInfo(file: string, doc: CrdDocument): CrdInfo {
  if (doc?.kind !== 'CustomResourceDefinition') throw new Error(`${file}: not a CustomResourceDefinition`);
  const storage = doc.spec.versions.filter((v) => v.storage);
  if (storage.length !== 1) throw new Error(`${file}: expected exactly one storage version`);
  const v = storage[0];
  const n = doc.spec.names;
  return {
    file,
    name: doc.metadata.name,
    group: doc.spec.group,
    version: v.name,
    kind: n.kind,
    listKind: n.listKind,
    plural: n.plural,
    singular: n.singular,
    shortNames: n.shortNames ?? [],
    categories: n.categories ?? [],
    scope: doc.spec.scope,
    schema: v.schema.openAPIV3Schema,
    printerColumns: v.additionalPrinterColumns ?? [],
    raw: doc,
  };
}

// ---------------------------------------------------------------------------------------------
// ajv set-up

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The API server rejects duplicate entries in list-type set and map lists ("Duplicate value").
 * A missing map key counts as its schema default, as the API server defaults before it checks.
 */
const listTypeKeyword: SchemaValidateFunction = (listType: unknown, data: unknown, parentSchema, dataCxt) => {
  listTypeKeyword.errors = [];
  if (!Array.isArray(data) || listType === 'atomic') return true;
  const node = parentSchema;
  const keyOf = listType === 'map' ? mapKeyFn(node) : (item: unknown) => item;
  const seen: unknown[] = [];
  data.forEach((item, i) => {
    const key = keyOf(item);
    if (seen.some((s) => isDeepStrictEqual(s, key))) {
      listTypeKeyword.errors?.push({
        instancePath: `${dataCxt?.instancePath ?? ''}/${i}`,
        message: `Duplicate value: ${JSON.stringify(key)}`,
        params: {},
      });
    }
    seen.push(key);
  });
  return listTypeKeyword.errors.length === 0;
};

function mapKeyFn(node: SchemaNode | undefined): (item: unknown) => unknown {
  const keys = node?.['x-kubernetes-list-map-keys'] ?? [];
  const props = node?.items?.properties ?? {};
  return (item) => {
    const key: JsonObject = {};
    for (const k of keys) key[k] = isObject(item) && item[k] !== undefined ? item[k] : props[k]?.default;
    return key;
  };
}

function newAjv(): Ajv {
  // useDefaults mirrors API-server defaulting: a missing property with a default gets it, and
  // defaults inside the defaulted value apply too (ajv assigns before descending, as the API
  // server's structural defaulting does).
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
  addFormats(ajv);
  // The API server knows these OpenAPI integer formats; ajv-formats does not.
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type', type: 'array', schemaType: 'string', errors: true, validate: listTypeKeyword });
  // Kubernetes extension keywords with no ajv meaning. x-kubernetes-validations is CEL: not evaluated here.
  for (const keyword of [
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-validations',
    'x-kubernetes-embedded-resource',
    'x-kubernetes-int-or-string',
  ]) {
    ajv.addKeyword({ keyword });
  }
  return ajv;
}

/**
 * A copy of a CRD schema node that ajv can enforce like the API server does. Objects that list
 * their properties and neither allow additional properties nor preserve unknown fields get
 * additionalProperties: false, because kubectl's default strict field validation rejects unknown
 * fields instead of pruning them silently.
 */
export function toAjvSchema(node: SchemaNode): JsonObject {
  const out: JsonObject = { ...node };
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, toAjvSchema(v)]));
    if (node.additionalProperties === undefined && !node['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (isObject(node.additionalProperties)) out.additionalProperties = toAjvSchema(node.additionalProperties);
  if (node.items) out.items = toAjvSchema(node.items);
  return out;
}

interface KindValidators {
  crd: CrdInfo;
  object: ValidateFunction;
  /** The status schema's validator, compiled on first use (most callers never need it). */
  status: () => ValidateFunction | undefined;
}

let crds: Map<string, CrdInfo> | undefined;
let ajv: ReturnType<typeof newAjv> | undefined;
const compiled = new Map<string, KindValidators>();

/**
 * A kind's validators, compiled on first use and kept: compiling a CRD schema takes tens of
 * milliseconds, and a short-lived process (the securestack command) needs one kind's, not all four.
 */
function validators(kind: string): KindValidators {
  crds ??= new Map(loadCrds().map((crd) => [crd.kind, crd]));
  const known = compiled.get(kind);
  if (known) return known;
  const crd = crds.get(kind);
  if (!crd) throw new Error(`unknown kind ${kind}; known: ${[...crds.keys()].join(', ')}`);
  const shared = (ajv ??= newAjv());
  const statusNode = crd.schema.properties?.status;
  let status: ValidateFunction | undefined;
  const entry: KindValidators = {
    crd,
    object: shared.compile(toAjvSchema(crd.schema)),
    status: () => (statusNode ? (status ??= shared.compile(toAjvSchema(statusNode))) : undefined),
  };
  compiled.set(kind, entry);
  return entry;
}

/** The CRD of a kind, as loaded by the validators. */
export function crdFor(kind: string): CrdInfo {
  return validators(kind).crd;
}

// ---------------------------------------------------------------------------------------------
// Defaulting and validation

/**
 * A deep copy of obj as the API server would store it: nulls in fields that are not nullable
 * dropped, then schema defaults applied. Validation errors are ignored here; see validateSpec.
 */
export function applyDefaults<T>(kind: string, obj: T): T {
  const { crd, object } = validators(kind);
  const copy = structuredClone(obj);
  pruneNulls(copy, crd.schema);
  object(copy);
  return copy;
}

/**
 * Validates a whole resource (apiVersion, kind, metadata, spec and, if present, status) against
 * its CRD schema after API-server-style defaulting. Error messages start with the field path,
 * for example `spec.image: must match pattern "..."`. CEL rules are not evaluated (see the top
 * of this file).
 */
export function validateSpec(kind: string, obj: unknown): ValidationResult {
  const { crd, object } = validators(kind);
  const errors = identityErrors(crd, obj);
  const copy = structuredClone(obj);
  pruneNulls(copy, crd.schema);
  if (!object(copy)) errors.push(...formatErrors(object.errors ?? [], ''));
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

/** Validates a status object on its own, for controllers to check before they write it. */
export function validateStatus(kind: string, status: unknown): ValidationResult {
  const { crd, status: statusValidator } = validators(kind);
  const validate = statusValidator();
  if (!validate) return { ok: false, errors: [`${kind} has no status schema`] };
  const copy = structuredClone(status);
  pruneNulls(copy, crd.schema.properties?.status ?? {});
  return validate(copy) ? { ok: true } : { ok: false, errors: formatErrors(validate.errors ?? [], 'status') };
}

/**
 * Validates a value against one schema node with a throwaway validator, for checks such as "every
 * default is valid for its own field" (the API server refuses CRDs whose defaults are not).
 */
export function validateValue(node: SchemaNode, value: unknown, at = ''): string[] {
  // ajv (strict) refuses a default at the root of a schema: a value cannot default itself.
  const rest: SchemaNode = { ...node };
  delete rest.default;
  const validate = newAjv().compile(toAjvSchema(rest));
  return validate(structuredClone(value)) ? [] : formatErrors(validate.errors ?? [], at);
}

function identityErrors(crd: CrdInfo, obj: unknown): string[] {
  if (!isObject(obj)) return ['must be an object'];
  const errors: string[] = [];
  const apiVersion = `${crd.group}/${crd.version}`;
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) errors.push(`apiVersion: must be ${apiVersion}`);
  if (obj.kind !== undefined && obj.kind !== crd.kind) errors.push(`kind: must be ${crd.kind}`);
  return errors;
}

/** The API server drops null values of non-nullable fields before defaulting; so do we. */
function pruneNulls(value: unknown, node: SchemaNode): void {
  if (Array.isArray(value)) {
    if (node.items) for (const item of value) pruneNulls(item, node.items);
    return;
  }
  if (!isObject(value) || !node.properties) return;
  for (const [k, v] of Object.entries(value)) {
    const prop = node.properties[k];
    if (!prop) continue;
    if (v === null && !prop.nullable) delete value[k];
    else pruneNulls(v, prop);
  }
}

function formatErrors(errors: ErrorObject[], prefix: string): string[] {
  return errors.map((e) => formatError(e, prefix));
}

function formatError(e: ErrorObject, prefix: string): string {
  const at = fieldPath(prefix, e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${joinPath(at, String(e.params.missingProperty))}: Required value`;
    case 'additionalProperties':
      return `${joinPath(at, String(e.params.additionalProperty))}: unknown field`;
    case 'enum':
      return `${at}: Unsupported value: ${JSON.stringify(e.data)}: supported values: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at || '<root>'}: ${e.message ?? e.keyword}`;
  }
}

/** JSON pointer (/spec/rules/0/id) to a Kubernetes field path (spec.rules[0].id). */
export function fieldPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out = /^\d+$/.test(seg) ? `${out}[${seg}]` : joinPath(out, seg);
  }
  return out;
}

function joinPath(base: string, seg: string): string {
  return base ? `${base}.${seg}` : seg;
}
