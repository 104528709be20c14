/**
 * The scanner report path: a gzip-compressed CycloneDX 1.6 JSON document with vulnerabilities
 * (what `trivy image --format cyclonedx --scanners vuln` emits) comes in; a small ScanSummary
 * for ImageScan status comes out.
 *
 * - readCompressedBody and inflateReport: read an upload and gunzip it, with hard limits on the
 *   compressed and the decompressed size, so neither an oversize upload nor a zip bomb can
 *   exhaust memory.
 * - parseReport: JSON, then @cyclonedx/cyclonedx-library's own JSON-schema validator for the
 *   document's spec version, then reference checks the schema cannot express, then the summary.
 *
 * Every problem with the input is a ReportError whose `reason` is a condition reason
 * (InvalidReport, TooLarge) and whose `detail` is a one-line message; nothing here throws
 * anything else for bad input.
 *
 * How Trivy writes vulnerabilities (pkg/sbom/cyclonedx/marshal.go, checked against v0.74.0):
 * - one `vulnerabilities[]` entry per vulnerability id; every affected package is one
 *   `affects[]` entry whose `ref` is the component's bom-ref (a purl for packages) and whose
 *   `versions[]` holds `{version: <installed>, status: "affected"}`;
 * - `ratings[]` has one entry per vendor (`source.name`: nvd, debian, redhat, ghsa, ...) and per
 *   CVSS method; there is no single "Trivy severity" in the document. Trivy itself picks the
 *   severity of the data source that reported the vulnerability (`vulnerability.source.name`),
 *   then GHSA for GHSA ids, then NVD; we follow the same order, then fall back to the highest
 *   rating (any other scanner's ratings);
 * - the fixed version is only in `recommendation`: "Upgrade <pkg> to version <fixed>", several
 *   joined with "; " when one id affects several packages. We also read CycloneDX's own
 *   `affects[].versions[]` entries with status "unaffected" and a vulnerability property
 *   `aquasecurity:trivy:FixedVersion`, for other scanners and older Trivy releases;
 * - there is no title: `description` is the only text, so a title is its first line, truncated;
 * - the scanner is `metadata.tools.components[0]` (group aquasecurity, name trivy, version);
 * - the image is `metadata.component` (type container): purl `pkg:oci/<name>@sha256%3A<hex>`
 *   and properties `aquasecurity:trivy:RepoDigest` = `<repo>@sha256:<hex>`
 *   (`aquasecurity:trivy:ImageID` is the config digest, not the manifest digest);
 * - the vulnerability database's update time is not in the document. A scan Job may add it as
 *   the metadata property `securestack.io:vulnerability-db:updated-at` (RFC 3339).
 * - Trivy v0.74.0 (cyclonedx-go v0.11.0) writes specVersion 1.7, not 1.6; see
 *   ParseOptions.specVersions.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import type { VulnerabilityFinding, VulnerabilitySummary } from '../../api/types.generated';
import { rfc3339 as formatRfc3339 } from '../../platform/runtime/conditions';

export type Severity = VulnerabilityFinding['severity'];

/** Condition reasons for a report that cannot be used. */
export type ReportErrorReason = 'InvalidReport' | 'TooLarge' | 'ValidatorUnavailable';

/**
 * A report that cannot be used. `reason` is a condition reason (CamelCase); `detail` is one
 * line for the condition message; `message` is both, e.g.
 * "InvalidReport: not CycloneDX 1.6: specVersion is 1.4".
 *
 * ValidatorUnavailable is the operator's fault, not the report's: the CycloneDX validator's
 * optional dependencies are missing, so no report can be validated (retry after fixing the
 * installation; never accept the report unvalidated).
 */
export class ReportError extends Error {
  constructor(
    readonly reason: ReportErrorReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'ReportError';
  }
}

/** An upload over a size limit; the upload server answers 413. */
export class TooLargeError extends ReportError {
  constructor(
    readonly which: 'compressed' | 'decompressed',
    readonly limitBytes: number,
  ) {
    super('TooLarge', `${which} report exceeds ${limitBytes} bytes`);
    this.name = 'TooLargeError';
  }
}

export const isTooLarge = (err: unknown): err is TooLargeError => err instanceof TooLargeError;

// ---- bounded gunzip ------------------------------------------------------------------------

export const MAX_COMPRESSED_BYTES = 50 * 1024 * 1024;
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 200 * 1024 * 1024;

/** Throws TooLarge at once when a Content-Length header already announces too many bytes. */
export function checkContentLength(header: string | undefined, maxCompressedBytes = MAX_COMPRESSED_BYTES): void {
  if (header === undefined) return;
  const length = Number(header);
  if (Number.isFinite(length) && length > maxCompressedBytes) throw new TooLargeError('compressed', maxCompressedBytes);
}

/**
 * Reads a gzip-compressed upload as it arrived, without inflating it: that happens in the report
 * parser's process (inflateReport), so the event loop that answers admission never inflates or
 * parses a report. Stops reading as soon as the compressed limit is passed and rejects with
 * TooLargeError; a failing stream rejects with ReportError InvalidReport.
 *
 * On failure the source is paused, not destroyed, so an HTTP server can still answer (413 or
 * 400, with `Connection: close`) before it closes the socket.
 */
export function readCompressedBody(source: Readable, maxCompressedBytes = MAX_COMPRESSED_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytesIn = 0;
    const cleanup = (): void => {
      source.off('data', onData);
      source.off('error', onError);
      source.off('end', onEnd);
    };
    const onData = (chunk: Buffer | string): void => {
      bytesIn += chunk.length;
      if (bytesIn > maxCompressedBytes) {
        cleanup();
        source.pause();
        chunks.length = 0;
        reject(new TooLargeError('compressed', maxCompressedBytes));
        return;
      }
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new ReportError('InvalidReport', `reading the upload failed: ${err.message}`));
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, bytesIn));
    };
    source.on('data', onData);
    source.on('error', onError);
    source.on('end', onEnd);
  });
}

/**
 * Inflates an uploaded report with a hard limit on its decompressed size: zlib stops at the limit
 * (a gzip bomb is not inflated beyond it) and this throws TooLargeError; anything that is not a
 * complete gzip stream throws ReportError InvalidReport. Synchronous: it runs in the report
 * parser's own low-priority process, never on the operator's event loop.
 */
export function inflateReport(gzip: Uint8Array, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  try {
    return gunzipSync(gzip, { maxOutputLength: maxDecompressedBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new TooLargeError('decompressed', maxDecompressedBytes);
    throw new ReportError('InvalidReport', `not a gzip stream: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---- the summary ---------------------------------------------------------------------------

export interface ScanSummary {
  /** The document's specVersion. */
  specVersion: string;
  /** The scanned image's manifest digest (sha256:<hex>) when the report names it. */
  digest?: string;
  scanner: { name?: string; version?: string; dbUpdatedAt?: string };
  /** Counts per severity and the fixable count: one per (vulnerability id, affected component). */
  summary: Required<Omit<VulnerabilitySummary, 'fixableBySeverity' | 'oldestFixablePublished'>> & {
    fixableBySeverity: Required<NonNullable<VulnerabilitySummary['fixableBySeverity']>>;
    /** Per severity, the oldest publication date among fixable vulnerabilities (absent when none is fixable or dated). */
    oldestFixablePublished: NonNullable<VulnerabilitySummary['oldestFixablePublished']>;
  };
  /** All findings counted in summary. */
  findingCount: number;
  /** The most severe findings, at most `topN`, within the byte budget. */
  topFindings: VulnerabilityFinding[];
  /** Components in the SBOM (nested ones included, metadata.component excluded). */
  componentCount: number;
}

export interface ParseOptions {
  /** Accepted specVersions (default ['1.6'], what the issue and the CRD promise). */
  specVersions?: readonly string[];
  /** Number of top findings (default 20, the CRD's maxItems). */
  topN?: number;
  /** Title length limit in characters (default 200; the CRD allows 256). */
  titleMaxChars?: number;
  /** Upper bound for topFindings serialized as JSON (default 16 KiB). */
  topFindingsMaxBytes?: number;
  /** ImageScan spec.ignoreUnfixed: drop findings without a fixed version. */
  ignoreUnfixed?: boolean;
  /** ImageScan spec.severities: count and list only these (empty or absent: all). */
  severities?: readonly Severity[];
}

export interface ParsedReport {
  summary: ScanSummary;
  /** The parsed document, for storage as the SBOM. */
  bom: Record<string, unknown>;
  /** sha256 of the exact bytes given, hex. */
  sha256: string;
}

/** Metadata property a scan Job may add with the vulnerability database's update time. */
export const DB_UPDATED_AT_PROPERTY = 'securestack.io:vulnerability-db:updated-at';

/** Higher is more severe. */
export const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, UNKNOWN: 0 };

// CRD limits (crds/imagescans.securestack.io.yaml, status.topFindings and status.scanner).
const LIMITS = { id: 64, package: 256, installedVersion: 128, fixedVersion: 256, title: 256, scannerName: 63, scannerVersion: 64 };

/** Parses, validates and summarizes a report. Rejects with ReportError only. */
export async function parseReport(input: Buffer | string, options: ParseOptions = {}): Promise<ParsedReport> {
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  const sha256 = createHash('sha256').update(input).digest('hex');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ReportError('InvalidReport', `not JSON: ${oneLine(errorMessage(err), 200)}`);
  }
  const accepted = options.specVersions ?? ['1.6'];
  const wanted = `CycloneDX ${accepted.join(' or ')}`;
  if (!isRecord(doc)) throw new ReportError('InvalidReport', `not ${wanted}: the document is not a JSON object`);
  if (doc.bomFormat !== 'CycloneDX') {
    throw new ReportError('InvalidReport', `not ${wanted}: bomFormat is ${describe(doc.bomFormat)}, expected "CycloneDX"`);
  }
  if (typeof doc.specVersion !== 'string' || !accepted.includes(doc.specVersion)) {
    throw new ReportError('InvalidReport', `not ${wanted}: specVersion is ${describe(doc.specVersion)}`);
  }
  await validateSchema(doc.specVersion, doc, text);
  const summary = summarize(doc, doc.specVersion, options);
  return { summary, bom: doc, sha256 };
}

/**
 * Fails with ValidatorUnavailable unless the CycloneDX JSON validator can be built (it needs the
 * optional peer dependencies ajv, ajv-formats and ajv-formats-draft2019). Call at start so a
 * broken installation stops the process instead of failing every scan; it also compiles the
 * schema (about a second), which the first report would otherwise pay for.
 */
export async function checkValidator(specVersion = '1.6'): Promise<void> {
  await runValidator(specVersion, '{}');
}

const validators = new Map<string, Validation.JsonValidator>();

function validatorFor(specVersion: string): Validation.JsonValidator {
  const version = Object.values(Spec.Version).find((v: string) => v === specVersion);
  if (version === undefined) throw new ReportError('InvalidReport', `unsupported CycloneDX specVersion ${specVersion}`);
  let validator = validators.get(version);
  if (!validator) {
    validator = new Validation.JsonValidator(version);
    validators.set(version, validator);
  }
  return validator;
}

/** Runs the library's validator on one JSON text; returns its errors (null when valid). */
async function runValidator(specVersion: string, text: string): Promise<unknown> {
  const validator = validatorFor(specVersion);
  try {
    return await validator.validate(text);
  } catch (err) {
    if (err instanceof Validation.MissingOptionalDependencyError) {
      throw new ReportError(
        'ValidatorUnavailable',
        `the CycloneDX JSON validator of @cyclonedx/cyclonedx-library cannot run: ${oneLine(err.message, 300)}`,
      );
    }
    throw new ReportError('InvalidReport', `CycloneDX ${specVersion} validation failed: ${oneLine(errorMessage(err), 300)}`);
  }
}

/** Above these sizes the document is validated in pieces (see validateSchema). */
const PARTITION_ABOVE_CHARS = 512 * 1024;
const BATCH_ITEMS = 50;
const SPLIT_REFS_ABOVE = 500;
const UNIQUE_TOP_LEVEL = new Set(['components', 'services', 'dependencies', 'compositions', 'vulnerabilities', 'annotations', 'formulation']);

interface Piece {
  item: unknown;
  /** JSON pointer of the item in the original document. */
  path: string;
}

/**
 * Validates with @cyclonedx/cyclonedx-library's JSON validator (ajv and the library's own
 * CycloneDX schema for the document's version).
 *
 * The schema declares `uniqueItems` on components, dependencies, vulnerabilities and more, and
 * ajv checks that by comparing every pair of items: 5,000 components take about 5 s on two cores.
 * Large documents are therefore validated in pieces, every piece by the same library validator
 * against the full schema, which is equivalent because the top-level arrays carry no constraint
 * but `type`, `items` and `uniqueItems` (checked for bom-1.6):
 * - the document without its top-level arrays, then each array in batches of 50 items, each batch
 *   as a document of its own;
 * - nested components (component.components, the same `#/definitions/component`) are validated as
 *   top-level components, and long dependsOn/provides lists are split over several copies of
 *   their dependency;
 * - uniqueness across the pieces is checked here in linear time, with canonical JSON (sorted
 *   keys), which is ajv's deep equality for JSON values.
 */
async function validateSchema(specVersion: string, doc: Record<string, unknown>, text: string): Promise<void> {
  const arrays = Object.entries(doc).filter((e): e is [string, unknown[]] => Array.isArray(e[1]));
  if (text.length <= PARTITION_ABOVE_CHARS && arrays.every(([, list]) => list.length <= BATCH_ITEMS)) {
    const errors = await runValidator(specVersion, text);
    if (errors !== null && errors !== undefined) throw schemaError(specVersion, errors);
    return;
  }
  const skeleton: Record<string, unknown> = { ...doc };
  const uniqueGroups: Piece[] = [];
  const fields: [string, Piece[]][] = [];
  for (const [field, list] of arrays) {
    delete skeleton[field];
    const pieces: Piece[] = [];
    if (field === 'components') flattenComponents(list, '/components', pieces, uniqueGroups);
    else if (field === 'dependencies') splitDependencies(list, pieces, uniqueGroups);
    else list.forEach((item, i) => pieces.push({ item, path: `/${field}/${i}` }));
    if (UNIQUE_TOP_LEVEL.has(field)) uniqueGroups.push({ item: list, path: `/${field}` });
    fields.push([field, pieces]);
  }
  const skeletonErrors = await runValidator(specVersion, JSON.stringify(skeleton));
  if (skeletonErrors !== null && skeletonErrors !== undefined) throw schemaError(specVersion, skeletonErrors);
  for (const [field, pieces] of fields) {
    for (let start = 0; start < pieces.length || start === 0; start += BATCH_ITEMS) {
      const batch = pieces.slice(start, start + BATCH_ITEMS);
      const part = { bomFormat: doc.bomFormat, specVersion: doc.specVersion, [field]: batch.map((p) => p.item) };
      const errors = await runValidator(specVersion, JSON.stringify(part));
      if (errors !== null && errors !== undefined) throw schemaError(specVersion, remapPaths(errors, field, batch));
      if (pieces.length === 0) break;
    }
  }
  for (const group of uniqueGroups) {
    const list = group.item as unknown[];
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const key = canonicalJson(item);
      const first = seen.get(key);
      if (first !== undefined) {
        throw new ReportError('InvalidReport', `not CycloneDX ${specVersion}: 1 schema error(s): ${group.path} must NOT have duplicate items (items ## ${first} and ${i} are identical)`);
      }
      seen.set(key, i);
    });
  }
}

function flattenComponents(list: unknown[], path: string, pieces: Piece[], uniqueGroups: Piece[]): void {
  list.forEach((component, i) => {
    const at = `${path}/${i}`;
    if (isRecord(component) && Array.isArray(component.components)) {
      const { components: children, ...rest } = component;
      pieces.push({ item: rest, path: at });
      uniqueGroups.push({ item: children, path: `${at}/components` });
      flattenComponents(children as unknown[], `${at}/components`, pieces, uniqueGroups);
    } else {
      pieces.push({ item: component, path: at });
    }
  });
}

function splitDependencies(list: unknown[], pieces: Piece[], uniqueGroups: Piece[]): void {
  list.forEach((dependency, i) => {
    const at = `/dependencies/${i}`;
    if (!isRecord(dependency)) {
      pieces.push({ item: dependency, path: at });
      return;
    }
    let split = false;
    for (const key of ['dependsOn', 'provides']) {
      const refs = dependency[key];
      if (!Array.isArray(refs) || refs.length <= SPLIT_REFS_ABOVE) continue;
      split = true;
      uniqueGroups.push({ item: refs, path: `${at}/${key}` });
      for (let start = 0; start < refs.length; start += SPLIT_REFS_ABOVE) {
        pieces.push({ item: { ref: dependency.ref, [key]: refs.slice(start, start + SPLIT_REFS_ABOVE) }, path: at });
      }
    }
    if (split) {
      // Everything but the long lists, checked once.
      const { dependsOn, provides, ...rest } = dependency;
      const short: Record<string, unknown> = { ...rest };
      if (!Array.isArray(dependsOn) || dependsOn.length <= SPLIT_REFS_ABOVE) if (dependsOn !== undefined) short.dependsOn = dependsOn;
      if (!Array.isArray(provides) || provides.length <= SPLIT_REFS_ABOVE) if (provides !== undefined) short.provides = provides;
      pieces.push({ item: short, path: at });
    } else {
      pieces.push({ item: dependency, path: at });
    }
  });
}

/** Maps /<field>/<index in batch>/... back to the item's path in the original document. */
function remapPaths(errors: unknown, field: string, batch: Piece[]): unknown {
  if (!Array.isArray(errors)) return errors;
  const prefix = `/${field}/`;
  return errors.map((e: unknown) => {
    if (!isRecord(e) || typeof e.instancePath !== 'string' || !e.instancePath.startsWith(prefix)) return e;
    const rest = e.instancePath.slice(prefix.length);
    const slash = rest.indexOf('/');
    const index = Number(slash < 0 ? rest : rest.slice(0, slash));
    const piece = batch[index];
    return piece ? { ...e, instancePath: piece.path + (slash < 0 ? '' : rest.slice(slash)) } : e;
  });
}

/** JSON with object keys sorted: equal strings exactly when the values are deep-equal. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function schemaError(specVersion: string, errors: unknown): ReportError {
  return new ReportError('InvalidReport', `not CycloneDX ${specVersion}: ${describeSchemaErrors(errors)}`);
}

function describeSchemaErrors(errors: unknown): string {
  const list = Array.isArray(errors) ? (errors as unknown[]) : [errors];
  const shown = list.slice(0, 3).map((e) => {
    if (!isRecord(e)) return oneLine(String(e), 200);
    const where = typeof e.instancePath === 'string' && e.instancePath !== '' ? e.instancePath : '/';
    const params = isRecord(e.params) && Array.isArray(e.params.allowedValues) ? ` (${e.params.allowedValues.join(', ')})` : '';
    return oneLine(`${where} ${typeof e.message === 'string' ? e.message : 'is invalid'}${params}`, 200);
  });
  const more = list.length > 3 ? `; and ${list.length - 3} more` : '';
  return `${list.length} schema error(s): ${shown.join('; ')}${more}`;
}

/** A component of a BOM as the summary and the SBOM diff read it. */
export interface BomComponent {
  /** Its bom-ref, when it has one (what vulnerabilities' affects[] point at). */
  ref?: string;
  /** CycloneDX component type: library, operating-system, application, ... */
  type?: string;
  /** The name, else the bom-ref. */
  name: string;
  version?: string;
  group?: string;
  purl?: string;
}

/** One vulnerability id and one component it affects, as Trivy means it (see the file's comment). */
export interface AffectedComponent {
  id: string;
  /** The affected component's bom-ref. */
  ref: string;
  component: BomComponent;
  /** Maven-style group:name, npm-style @scope/name, else the name. */
  package: string;
  severity: Severity;
  score?: number;
  title?: string;
  installedVersion?: string;
  fixedVersion?: string;
  /** RFC 3339, UTC. */
  published?: string;
}

interface Finding extends VulnerabilityFinding {
  rank: number;
}

function bomComponent(c: Record<string, unknown>): BomComponent {
  const ref = str(c['bom-ref']);
  const out: BomComponent = { name: str(c.name) ?? ref ?? '' };
  const fields = { ref, type: str(c.type), version: str(c.version), group: str(c.group), purl: str(c.purl) };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key as keyof typeof fields] = value;
  return out;
}

/** Every component of the document, nested ones included and metadata.component (the image) excluded. */
export function bomComponents(doc: Record<string, unknown>): BomComponent[] {
  const out: BomComponent[] = [];
  const visit = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const c of list) {
      if (!isRecord(c)) continue;
      out.push(bomComponent(c));
      visit(c.components);
    }
  };
  visit(doc.components);
  return out;
}

/**
 * Every (vulnerability id, affected component) pair of a document once, with the severity Trivy
 * would give it and the fixed version when the document says it. `severities` skips the others
 * before their references are checked. Throws ReportError for an affects[] ref that is no
 * component of the document.
 */
export function affectedComponents(
  doc: Record<string, unknown>,
  options: { titleMaxChars?: number; severities?: ReadonlySet<Severity> } = {},
  listed: readonly BomComponent[] = bomComponents(doc),
): AffectedComponent[] {
  const titleMax = options.titleMaxChars ?? LIMITS.title;
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const components = new Map<string, BomComponent>();
  // A vulnerability may affect the image itself (metadata.component), which is no listed component.
  for (const c of [...(isRecord(metadata.component) ? bomComponents({ components: [metadata.component] }) : []), ...listed]) {
    if (c.ref !== undefined) components.set(c.ref, c);
  }
  const out: AffectedComponent[] = [];
  const seen = new Set<string>();
  const vulnerabilities = Array.isArray(doc.vulnerabilities) ? doc.vulnerabilities : [];
  vulnerabilities.forEach((v: unknown, index: number) => {
    if (!isRecord(v)) return;
    const id = str(v.id) ?? str(v['bom-ref']) ?? `vulnerabilities[${index}]`;
    const ratings = Array.isArray(v.ratings) ? v.ratings.filter(isRecord) : [];
    const severity = pickSeverity(id, isRecord(v.source) ? str(v.source.name) : undefined, ratings);
    if (options.severities && !options.severities.has(severity)) return;
    const score = highestScore(ratings);
    const title = titleOf(v, titleMax);
    const recommendations = parseRecommendation(str(v.recommendation));
    const fixedProperty = propertyValue(v.properties, 'aquasecurity:trivy:FixedVersion');
    const published = publishedDate(v.published);
    const affects = Array.isArray(v.affects) ? v.affects.filter(isRecord) : [];
    for (const affect of affects) {
      const ref = str(affect.ref);
      if (ref === undefined) continue;
      const component = components.get(ref);
      if (!component) {
        throw new ReportError('InvalidReport', `vulnerability ${oneLine(id, 80)} affects ${oneLine(ref, 160)}, which is not a component of this BOM`);
      }
      const key = `${id}\u0000${ref}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const versions = Array.isArray(affect.versions) ? affect.versions.filter(isRecord) : [];
      const installed = versions.find((x) => x.status === 'affected' && typeof x.version === 'string')?.version;
      const unaffected = versions.filter((x) => x.status === 'unaffected').map((x) => str(x.version) ?? str(x.range)).filter((x): x is string => !!x);
      const pkg = packageName(component);
      const fixed = fixedProperty ?? (unaffected.length > 0 ? unaffected.join(', ') : undefined) ?? fixedFromRecommendation(recommendations, component, pkg);
      const found: AffectedComponent = { id, ref, component, package: pkg, severity };
      const installedVersion = typeof installed === 'string' ? installed : component.version;
      if (installedVersion) found.installedVersion = installedVersion;
      if (fixed) found.fixedVersion = fixed;
      if (score !== undefined) found.score = score;
      if (title) found.title = title;
      if (published) found.published = published;
      out.push(found);
    }
  });
  return out;
}

/** Reduces a schema-valid document to a ScanSummary; checks references the schema cannot. */
export function summarize(doc: Record<string, unknown>, specVersion: string, options: ParseOptions = {}): ScanSummary {
  const topN = options.topN ?? 20;
  const titleMax = Math.min(options.titleMaxChars ?? 200, LIMITS.title);
  const severities = options.severities && options.severities.length > 0 ? new Set(options.severities) : undefined;
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  // Walked once: counted here, and looked up by bom-ref for the vulnerabilities' affects[].
  const components = bomComponents(doc);

  const fixableBySeverity = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  const oldestFixablePublished: ScanSummary['summary']['oldestFixablePublished'] = {};
  const counts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, fixableBySeverity, oldestFixablePublished };
  const findings: Finding[] = [];
  for (const affected of affectedComponents(doc, { titleMaxChars: titleMax, ...(severities ? { severities } : {}) }, components)) {
    const { severity, fixedVersion: fixed, published } = affected;
    if (options.ignoreUnfixed && !fixed) continue;
    const level = severity.toLowerCase() as Lowercase<Severity>;
    counts[level]++;
    if (fixed) {
      counts.fixable++;
      fixableBySeverity[level]++;
      const oldest = oldestFixablePublished[level];
      if (published && (!oldest || published < oldest)) oldestFixablePublished[level] = published;
    }
    const finding: Finding = {
      id: truncate(affected.id, LIMITS.id),
      package: truncate(affected.package, LIMITS.package),
      severity,
      rank: SEVERITY_RANK[severity],
    };
    if (affected.installedVersion) finding.installedVersion = truncate(affected.installedVersion, LIMITS.installedVersion);
    if (fixed) finding.fixedVersion = truncate(fixed, LIMITS.fixedVersion);
    if (affected.score !== undefined) finding.score = affected.score;
    if (affected.title) finding.title = affected.title;
    findings.push(finding);
  }

  findings.sort(compareFindings);
  const topFindings = withinBudget(
    findings.slice(0, topN).map(({ rank: _rank, ...rest }) => rest),
    options.topFindingsMaxBytes ?? 16 * 1024,
  );

  const tool = firstTool(metadata.tools);
  const scanner: ScanSummary['scanner'] = {};
  if (tool.name) scanner.name = truncate(tool.name, LIMITS.scannerName);
  if (tool.version) scanner.version = truncate(tool.version, LIMITS.scannerVersion);
  const dbUpdatedAt = rfc3339(propertyValue(metadata.properties, DB_UPDATED_AT_PROPERTY) ?? propertyValue(tool.properties, DB_UPDATED_AT_PROPERTY));
  if (dbUpdatedAt) scanner.dbUpdatedAt = dbUpdatedAt;

  const result: ScanSummary = { specVersion, scanner, summary: counts, findingCount: findings.length, topFindings, componentCount: components.length };
  const digest = imageDigest(metadata.component);
  if (digest) result.digest = digest;
  return result;
}

function compareFindings(a: Finding, b: Finding): number {
  return (
    b.rank - a.rank ||
    (b.score ?? -1) - (a.score ?? -1) ||
    compareStrings(a.id, b.id) ||
    compareStrings(a.package, b.package) ||
    compareStrings(a.installedVersion ?? '', b.installedVersion ?? '')
  );
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Keeps topFindings under a byte budget: shorter titles first, then fewer findings. */
function withinBudget(findings: VulnerabilityFinding[], maxBytes: number): VulnerabilityFinding[] {
  const size = (list: VulnerabilityFinding[]): number => Buffer.byteLength(JSON.stringify(list));
  let list = findings;
  for (const titleMax of [80, 0]) {
    if (size(list) <= maxBytes) return list;
    list = list.map((f) => {
      if (f.title === undefined) return f;
      const { title, ...rest } = f;
      return titleMax > 0 ? { ...rest, title: truncate(title, titleMax) } : rest;
    });
  }
  while (list.length > 0 && size(list) > maxBytes) list = list.slice(0, -1);
  return list;
}

/** Trivy's order (pkg/vulnerability: autoDetectSeverity), then the highest rating. */
function pickSeverity(id: string, dataSource: string | undefined, ratings: Record<string, unknown>[]): Severity {
  const bySource = (source: string): Severity | undefined => {
    const mine = ratings.filter((r) => isRecord(r.source) && str(r.source.name)?.toLowerCase() === source);
    // NVD's CVSSv2 rating carries a severity computed from the v2 score; Trivy's NVD severity is
    // the v3 one, so the others win.
    const preferred = mine.find((r) => r.method !== 'CVSSv2' && severityOf(r) !== undefined) ?? mine.find((r) => severityOf(r) !== undefined);
    return preferred ? severityOf(preferred) : undefined;
  };
  const order = [dataSource?.toLowerCase(), id.startsWith('GHSA-') ? 'ghsa' : undefined, 'nvd'].filter((s): s is string => !!s);
  for (const source of order) {
    const severity = bySource(source);
    if (severity) return severity;
  }
  let best: Severity = 'UNKNOWN';
  for (const r of ratings) {
    const s = severityOf(r);
    if (s && SEVERITY_RANK[s] > SEVERITY_RANK[best]) best = s;
  }
  return best;
}

/** CycloneDX severities to ours: info and none count as LOW; unknown is not a judgement. */
function severityOf(rating: Record<string, unknown>): Severity | undefined {
  switch (rating.severity) {
    case 'critical':
      return 'CRITICAL';
    case 'high':
      return 'HIGH';
    case 'medium':
      return 'MEDIUM';
    case 'low':
    case 'info':
    case 'none':
      return 'LOW';
    default:
      return undefined;
  }
}

function highestScore(ratings: Record<string, unknown>[]): number | undefined {
  let best: number | undefined;
  for (const r of ratings) {
    const score = r.score;
    if (typeof score === 'number' && Number.isFinite(score) && score >= 0 && score <= 10 && (best === undefined || score > best)) best = score;
  }
  return best;
}

function titleOf(v: Record<string, unknown>, max: number): string | undefined {
  const text = str(v.description) ?? str(v.detail);
  if (!text) return undefined;
  const firstLine = text.trim().split(/\r?\n/, 1)[0] ?? '';
  return firstLine ? truncate(oneLine(firstLine, Number.MAX_SAFE_INTEGER), max) : undefined;
}

/** "Upgrade a to version 1; Upgrade b to version 2, 3" → [[a, 1], [b, "2, 3"]]. */
function parseRecommendation(text: string | undefined): [string, string][] {
  if (!text) return [];
  const out: [string, string][] = [];
  for (const part of text.split('; ')) {
    const match = /^Upgrade (.+) to version (.+)$/.exec(part.trim());
    if (match?.[1] && match[2]) out.push([match[1], match[2]]);
  }
  return out;
}

function fixedFromRecommendation(recs: [string, string][], component: BomComponent, pkg: string): string | undefined {
  if (recs.length === 0) return undefined;
  const names = new Set([component.name, pkg]);
  if (component.group) {
    names.add(`${component.group}:${component.name}`);
    names.add(`${component.group}/${component.name}`);
  }
  return recs.find(([name]) => names.has(name))?.[1];
}

/** Maven-style group:name, npm-style @scope/name, else the name. */
export function packageName(c: BomComponent): string {
  if (!c.group) return c.name;
  return c.purl?.startsWith('pkg:npm/') ? `${c.group}/${c.name}` : `${c.group}:${c.name}`;
}

function firstTool(tools: unknown): { name?: string; version?: string; properties?: unknown } {
  // CycloneDX 1.5+: { components: [...], services: [...] }; the older array form is deprecated
  // but still valid in 1.6.
  const list: unknown[] = Array.isArray(tools)
    ? tools
    : isRecord(tools)
      ? [...asList(tools.components), ...asList(tools.services)]
      : [];
  const first = list.find(isRecord);
  if (!first) return {};
  return { name: str(first.name), version: str(first.version), properties: first.properties };
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function imageDigest(component: unknown): string | undefined {
  if (!isRecord(component)) return undefined;
  for (const p of Array.isArray(component.properties) ? component.properties.filter(isRecord) : []) {
    if (p.name !== 'aquasecurity:trivy:RepoDigest' || typeof p.value !== 'string') continue;
    const digest = p.value.slice(p.value.lastIndexOf('@') + 1);
    if (DIGEST.test(digest)) return digest;
  }
  const purl = str(component.purl);
  if (purl?.startsWith('pkg:oci/')) {
    const match = /@([^?#]+)/.exec(purl);
    if (match?.[1]) {
      try {
        const digest = decodeURIComponent(match[1]);
        if (DIGEST.test(digest)) return digest;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function propertyValue(properties: unknown, name: string): string | undefined {
  if (!Array.isArray(properties)) return undefined;
  for (const p of properties) {
    if (isRecord(p) && p.name === name && typeof p.value === 'string' && p.value !== '') return p.value;
  }
  return undefined;
}

function rfc3339(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : formatRfc3339(new Date(time));
}

// ---- helpers -------------------------------------------------------------------------------

function decodeUtf8(buffer: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    throw new ReportError('InvalidReport', 'not JSON: the report is not valid UTF-8');
  }
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : oneLine(JSON.stringify(value), 40);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function oneLine(text: string, max: number): string {
  return truncate(text.replace(/\s+/g, ' ').trim(), max);
}

/** At most `max` UTF-16 units (so at most `max` characters), never splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return text.slice(0, Math.max(0, max));
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** An advisory's publication date as RFC 3339 in UTC (comparable as text), or undefined when absent or not a date. */
function publishedDate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
