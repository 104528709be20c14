// The layout is the architecture (issue 9): operator/platform (Kubernetes access, runtime, TLS,
// registries, logging, settings), operator/api (the CRD types and conventions), operator/engine
// (the pure rule engine), operator/features/<feature> (scan, admission, audit), and the entry
// points operator/main.ts, operator/uploader.ts and the securestack command in operator/cli/. An import may only run down or within its own
// layer; one feature does not import another; the engine does no I/O; dev tools (tools/) never ship
// and nothing under operator/ imports them. Read from the sources, so a new file is checked too.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

interface Layer {
  rank: number;
  name: string;
}

export function layerOf(file: string): Layer {
  const parts = file.split('/');
  if (parts[0] === 'tools') return { rank: 9, name: 'tools' };
  if (parts[0] !== 'operator') return { rank: 99, name: parts[0] ?? '' };
  switch (parts[1]) {
    case 'platform': return { rank: 0, name: 'platform' };
    case 'api': return { rank: 1, name: 'api' };
    case 'engine': return { rank: 2, name: 'engine' };
    case 'features': return { rank: 3, name: `features/${parts[2] ?? ''}` };
    default: return { rank: 4, name: 'entry' };
  }
}

/** Relative imports of a file, resolved to repository paths. */
function importsOf(file: string): Array<{ spec: string; target: string }> {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import|require)\s*\(?\s*['"](\.{1,2}\/[^'"]*)['"]/g)].map((match) => {
    const spec = match[1] ?? '';
    return { spec, target: path.normalize(path.join(path.dirname(file), spec)) };
  });
}

/** Why an import from `file` to `target` breaks the layering, or undefined when it does not. */
export function layeringProblem(file: string, target: string): string | undefined {
  const from = layerOf(file);
  const to = layerOf(target);
  if (to.rank === 9 && from.rank < 9) return `${file} (${from.name}) imports the dev tool ${target}`;
  if (to.rank > from.rank) return `${file} (${from.name}) imports upward into ${target} (${to.name})`;
  if (from.rank === 3 && to.rank === 3 && from.name !== to.name) return `${file} (${from.name}) imports another feature: ${target} (${to.name})`;
  return undefined;
}

describe('layers', () => {
  const files = sources('operator');

  it('finds the layers where the layout puts them', () => {
    const names = new Set(files.map((file) => layerOf(file).name));
    for (const expected of ['platform', 'api', 'engine', 'features/scan', 'features/admission', 'features/audit', 'entry']) assert.ok(names.has(expected), `no ${expected} layer in ${[...names].join(', ')}`);
    const entries = files.filter((file) => layerOf(file).name === 'entry').sort();
    assert.deepEqual(entries.filter((file) => !file.startsWith('operator/cli/')), ['operator/main.ts', 'operator/uploader.ts']);
    assert.ok(entries.includes('operator/cli/main.ts'), 'the securestack command is an entry point');
  });

  it('has no import running upward, across features, or into the dev tools', () => {
    const problems = files.flatMap((file) => importsOf(file).map(({ target }) => layeringProblem(file, target)).filter((problem): problem is string => problem !== undefined));
    assert.deepEqual(problems, []);
  });

  it('says which import breaks the layering, each way round', () => {
    assert.match(layeringProblem('operator/platform/runtime/manager.ts', 'operator/features/scan/jobs') ?? '', /imports upward/);
    assert.equal(layeringProblem('operator/features/scan/jobs.ts', 'operator/platform/runtime/manager'), undefined);
    assert.match(layeringProblem('operator/engine/compile.ts', 'operator/features/admission/metrics') ?? '', /imports upward/);
    assert.equal(layeringProblem('operator/features/admission/admission.ts', 'operator/engine/evaluate'), undefined);
    assert.match(layeringProblem('operator/features/audit/scanpolicy.ts', 'operator/features/admission/metrics') ?? '', /another feature/);
    assert.equal(layeringProblem('operator/features/audit/scanpolicy.ts', 'operator/features/audit/metrics'), undefined);
    assert.match(layeringProblem('operator/main.ts', 'tools/rules-doc') ?? '', /dev tool/);
    assert.equal(layeringProblem('operator/main.ts', 'operator/features/scan/imagescan'), undefined);
    assert.match(layeringProblem('operator/api/own-scans.ts', 'operator/engine/types') ?? '', /imports upward/);
  });

  it('keeps the engine free of I/O: no node:fs, net, http(s), child_process or client in it (types aside)', () => {
    const io = /^import (?!type )[^;]*from ['"](node:(fs|net|http|https|child_process|dgram|tls)|@kubernetes\/client-node|ioredis)['"]/m;
    const offenders = files.filter((file) => layerOf(file).name === 'engine' && io.test(readFileSync(path.join(root, file), 'utf8')));
    assert.deepEqual(offenders, []);
  });
});
