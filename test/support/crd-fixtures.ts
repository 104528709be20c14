// Loads the example manifests (examples/*.yaml) and the invalid CRD fixtures
// (test/fixtures/invalid/<kind>/*.yaml) shared by test/crd-schema.test.ts (ajv, no cluster) and
// test/crds.test.ts (the real API server), so both judge exactly the same objects.
//
// A fixture's header comments say what the API server must answer:
//   # case: enum | pattern | required | bounds | format | list | unknown | cel
//   # expect: <fragment>        (one or more; every fragment must appear in the error output)
// The first fragment names the field the error is about (spec.mode, spec.rules[1], ...).
import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../operator/api/schema';

export type JsonObject = Record<string, unknown>;

export interface ManifestFile {
  /** Path relative to the repository root. */
  file: string;
  object: JsonObject & { apiVersion: string; kind: string; metadata: JsonObject & { name: string } };
}

export interface InvalidFixture extends ManifestFile {
  /** The folder under test/fixtures/invalid, i.e. the lower-case kind. */
  kindDir: string;
  case: string;
  expects: string[];
  /** The field path named by the first expect fragment. */
  field: string;
  /** The file's text, sent to kubectl as it is. */
  text: string;
}

export const FIXTURE_CASES = ['enum', 'pattern', 'required', 'bounds', 'format', 'list', 'unknown', 'cel'] as const;

function isManifest(v: unknown): v is ManifestFile['object'] {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as JsonObject;
  const meta = o.metadata as JsonObject | undefined;
  return typeof o.apiVersion === 'string' && typeof o.kind === 'string' && typeof meta?.name === 'string';
}

function loadManifests(rel: string, text: string): ManifestFile[] {
  return yaml
    .loadAll(text)
    .filter((d) => d !== null && d !== undefined)
    .map((d) => {
      if (!isManifest(d)) throw new Error(`${rel}: every document needs apiVersion, kind and metadata.name`);
      return { file: rel, object: d };
    });
}

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every object in examples/*.yaml. */
export function loadExamples(): ManifestFile[] {
  const root = packageRoot();
  return yamlFiles(path.join(root, 'examples')).flatMap((f) =>
    loadManifests(path.relative(root, f), fs.readFileSync(f, 'utf8')),
  );
}

/** The field path at the start of an expect fragment, or inside `unknown field "..."`. */
export function fieldOf(expect: string): string | undefined {
  return /\b((?:spec|status|metadata)(?:\.[A-Za-z0-9_]+|\[\d+\])*)/.exec(expect)?.[1];
}

function header(text: string, key: string): string[] {
  const re = new RegExp(`^#\\s*${key}:\\s*(.+?)\\s*$`, 'gm');
  return [...text.matchAll(re)].map((m) => m[1]);
}

/** Every fixture under test/fixtures/invalid, one object per file. */
export function loadInvalidFixtures(): InvalidFixture[] {
  const root = packageRoot();
  const base = path.join(root, 'test', 'fixtures', 'invalid');
  return fs
    .readdirSync(base)
    .sort()
    .flatMap((kindDir) =>
      yamlFiles(path.join(base, kindDir)).map((f) => {
        const rel = path.relative(root, f);
        const text = fs.readFileSync(f, 'utf8');
        const docs = loadManifests(rel, text);
        if (docs.length !== 1) throw new Error(`${rel}: a fixture holds exactly one object`);
        const expects = header(text, 'expect');
        const [fixtureCase] = header(text, 'case');
        const field = expects.length > 0 ? fieldOf(expects[0]) : undefined;
        if (!field) throw new Error(`${rel}: needs a "# expect:" line whose first fragment names the field`);
        if (!(FIXTURE_CASES as readonly string[]).includes(fixtureCase)) {
          throw new Error(`${rel}: "# case:" must be one of ${FIXTURE_CASES.join(', ')}`);
        }
        return { ...docs[0], kindDir, case: fixtureCase, expects, field, text };
      }),
    );
}
