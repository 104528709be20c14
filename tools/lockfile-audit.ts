// Offline advisory check over package-lock.json. `npm audit` cannot reach its service from
// our build and CI machines, so the advisories we care about live in security/advisories.json
// and this module matches them against every installed package in the lockfile.
//
// CLI: node dist/tools/lockfile-audit.js [package-lock.json] [advisories.json]
// Prints one line per finding and exits 1 if there are any, 2 if the inputs are unusable.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseRange, parseVersion, satisfies } from './semver-range';

export interface Advisory {
  readonly package: string;
  readonly range: string;
  readonly id: string;
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly fixedIn: readonly string[];
}

/** One package as installed at one place in node_modules. */
export interface InstalledPackage {
  /** The lockfile key, e.g. node_modules/a/node_modules/b. */
  readonly path: string;
  /** The real package name: for an alias (`"request": "npm:@cypress/request@…"`) the target. */
  readonly name: string;
  readonly version: string;
  readonly dev: boolean;
}

export interface Finding {
  readonly path: string;
  readonly package: string;
  readonly version: string;
  readonly dev: boolean;
  readonly advisory: string;
  readonly aliases: readonly string[];
  readonly range: string;
  readonly summary: string;
  readonly fixedIn: readonly string[];
  /** Set when the installed version is not semver, so the range could not rule it out. */
  readonly unparseableVersion?: true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

const NODE_MODULES = 'node_modules/';

/** The folder name a lockfile key installs under: the part after the last node_modules/. */
function installedName(key: string): string | undefined {
  const at = key.lastIndexOf(NODE_MODULES);
  if (at < 0) return undefined;
  return key.slice(at + NODE_MODULES.length);
}

/**
 * Lists every package installed under node_modules in a lockfile v2/v3 `packages` map,
 * nested ones included. Workspace folders (keys without node_modules/) and links are
 * skipped: links carry no version, and their targets appear as their own entries.
 */
export function listInstalled(lock: unknown): InstalledPackage[] {
  if (!isRecord(lock) || !isRecord(lock.packages)) {
    // Lockfile v1 has only `dependencies`; auditing it as empty would pass silently.
    throw new Error('package-lock.json has no "packages" map (lockfileVersion 2 or 3 required)');
  }
  const out: InstalledPackage[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    const folder = installedName(key);
    if (folder === undefined || !isRecord(entry) || entry.link === true) continue;
    if (typeof entry.version !== 'string') {
      throw new Error(`lockfile entry ${key} has no version`);
    }
    const name = typeof entry.name === 'string' ? entry.name : folder;
    out.push({ path: key, name, version: entry.version, dev: entry.dev === true });
  }
  return out;
}

function parseAdvisory(value: unknown, index: number): Advisory {
  const where = `advisories[${index}]`;
  if (
    !isRecord(value) ||
    typeof value.package !== 'string' ||
    typeof value.range !== 'string' ||
    typeof value.id !== 'string' ||
    typeof value.summary !== 'string' ||
    !isStringArray(value.aliases) ||
    !isStringArray(value.fixedIn)
  ) {
    throw new Error(`${where}: needs package, range, id, summary (strings) and aliases, fixedIn (string arrays)`);
  }
  try {
    parseRange(value.range);
  } catch (err) {
    throw new Error(`${where} (${value.id}): ${(err as Error).message}`);
  }
  return {
    package: value.package,
    range: value.range,
    id: value.id,
    aliases: value.aliases,
    summary: value.summary,
    fixedIn: value.fixedIn,
  };
}

/** Validates the advisories file's shape and every range up front, so bad data fails loudly. */
export function parseAdvisories(doc: unknown): Advisory[] {
  if (!isRecord(doc) || !Array.isArray(doc.advisories)) {
    throw new Error('advisories file needs an "advisories" array');
  }
  return doc.advisories.map(parseAdvisory);
}

function toFinding(pkg: InstalledPackage, adv: Advisory, unparseable: boolean): Finding {
  return {
    path: pkg.path,
    package: pkg.name,
    version: pkg.version,
    dev: pkg.dev,
    advisory: adv.id,
    aliases: adv.aliases,
    range: adv.range,
    summary: adv.summary,
    fixedIn: adv.fixedIn,
    ...(unparseable ? { unparseableVersion: true as const } : {}),
  };
}

/**
 * Matches every installed package against the advisories for its real name. A version that
 * is not semver (a git or tarball dependency) is reported for any advisory on that package,
 * because we cannot show it is outside the vulnerable range.
 */
export function auditLockfile(lock: unknown, advisories: readonly Advisory[]): Finding[] {
  const byName = new Map<string, Advisory[]>();
  for (const adv of advisories) byName.set(adv.package, [...(byName.get(adv.package) ?? []), adv]);
  const findings: Finding[] = [];
  for (const pkg of listInstalled(lock)) {
    const unparseable = parseVersion(pkg.version) === undefined;
    for (const adv of byName.get(pkg.name) ?? []) {
      if (unparseable || satisfies(pkg.version, adv.range)) findings.push(toFinding(pkg, adv, unparseable));
    }
  }
  return findings.sort((a, b) => a.path.localeCompare(b.path) || a.advisory.localeCompare(b.advisory));
}

export function formatFinding(f: Finding): string {
  const ids = [f.advisory, ...f.aliases].join('/');
  const fixed = f.fixedIn.length > 0 ? `fixed in ${f.fixedIn.join(', ')}` : 'no fixed version';
  const note = f.unparseableVersion ? ' (version is not semver)' : '';
  return `${f.package}@${f.version}${f.dev ? ' [dev]' : ''} at ${f.path}: ${ids} (${f.range}; ${fixed})${note} - ${f.summary}`;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

/** Runs the check on files and returns the process exit code. */
export function runCli(argv: readonly string[], log: (line: string) => void): number {
  // Compiled to dist/tools/, two levels below the repo root.
  const root = path.resolve(__dirname, '..', '..');
  const lockPath = argv[0] ?? path.join(root, 'package-lock.json');
  const advisoriesPath = argv[1] ?? path.join(root, 'security', 'advisories.json');
  let findings: Finding[];
  try {
    findings = auditLockfile(readJson(lockPath), parseAdvisories(readJson(advisoriesPath)));
  } catch (err) {
    log(`lockfile-audit: ${(err as Error).message}`);
    return 2;
  }
  for (const f of findings) log(formatFinding(f));
  log(`lockfile-audit: ${findings.length} finding(s) in ${lockPath}`);
  return findings.length > 0 ? 1 : 0;
}

if (require.main === module) {
  process.exitCode = runCli(process.argv.slice(2), (line) => console.log(line));
}
