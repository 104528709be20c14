// operator/cli/documents.ts and format.ts at sizes and edges the end-to-end CLI tests do not reach:
// the document splitter on line breaks and chunk boundaries, the worker thread that parses large
// files (the same items as the in-process path, in order), and a table of 200,000 violations.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { dump } from 'js-yaml';
import type { AuditResult } from '../operator/cli/audit';
import { readObjects, splitDocuments, type ReadItem } from '../operator/cli/documents';
import { renderTable } from '../operator/cli/format';

const dir = mkdtempSync(path.join(tmpdir(), 'securestack-documents-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function split(chunks: Array<string | Buffer>): Promise<Array<{ text: string; line: number }>> {
  const out: Array<{ text: string; line: number }> = [];
  for await (const document of splitDocuments(Readable.from(chunks, { objectMode: false }))) out.push(document);
  return out;
}

async function collect(items: AsyncIterable<ReadItem>): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('securestack audit: reading documents', () => {
  it('splits on --- and ... lines, with the line each document starts on', async () => {
    assert.deepEqual(await split(['a: 1\n---\nb: 2\n...\n# only a comment\n---\n\n--- c: 3\nd: 4']), [
      { text: 'a: 1', line: 1 },
      { text: 'b: 2', line: 3 },
      { text: 'c: 3\nd: 4', line: 8 },
    ]);
    // `---x` and ` ---` are content, not separators.
    assert.deepEqual(await split(['---x: 1\n ---\n']), [{ text: '---x: 1\n ---', line: 1 }]);
  });

  it('reads \\r\\n and a lone \\r as line breaks, also across chunks', async () => {
    const expected = [
      { text: 'a: 1\nb: 2', line: 1 },
      { text: 'c: 3', line: 4 },
    ];
    assert.deepEqual(await split(['a: 1\r\nb: 2\r\n---\r\nc: 3\r\n']), expected);
    assert.deepEqual(await split(['a: 1\r', '\nb: 2\r', '\n---\r', 'c: 3']), expected);
    assert.deepEqual(await split(['a: 1\rb: 2\r---\rc: 3\r']), expected);
  });

  it('keeps a character split between two chunks whole', async () => {
    const bytes = Buffer.from('name: café\n---\nx: 1\n');
    const cut = bytes.indexOf(0xa9); // inside é (c3 a9)
    assert.deepEqual(await split([bytes.subarray(0, cut), bytes.subarray(cut)]), [
      { text: 'name: café', line: 1 },
      { text: 'x: 1', line: 3 },
    ]);
  });

  it('parses a large file in the worker thread into the same items, in order, as from stdin', async () => {
    const docs: string[] = [];
    // About 3 MiB, past the size that moves parsing to the worker; a bad document near the end.
    for (let i = 0; i < 6_000; i++) docs.push(dump({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}`, namespace: `ns-${i % 7}` }, data: { value: 'x'.repeat(400) } }));
    docs.splice(5_990, 0, 'foo: [\n');
    const text = docs.join('---\n');
    const file = path.join(dir, 'large.yaml');
    writeFileSync(file, text);
    assert.ok(text.length > 2 * 1024 * 1024);
    const fromFile = await collect(readObjects([file]));
    const fromStdin = (await collect(readObjects(['-'], Readable.from([text])))).map((item) => ({ ...item, source: file }));
    assert.equal(fromFile.length, 6_001);
    assert.deepEqual(fromFile, fromStdin);
    assert.ok(fromFile.some((item) => 'problem' in item));
  });

  it('renders a table of 200,000 violations', () => {
    const result: AuditResult = { source: 'm.yaml', line: 1, kind: 'Pod', namespace: 'default', name: 'p', policy: 'p', mode: 'Audit', ruleId: 'disallow-privileged', title: '', severity: 'HIGH', field: 'spec', message: '', remediation: '', text: '[disallow-privileged] spec: x', fieldLine: 1 };
    const results = Array.from({ length: 200_000 }, (_, i) => ({ ...result, name: `pod-${i}` }));
    const table = renderTable({ results, warnings: [], objects: 200_000 }, 0, false);
    assert.match(table, /^SEVERITY {2}MODE {3}POLICY {2}RULE {17}OBJECT {18}LOCATION\n/);
    assert.match(table, /200000 object\(s\) checked: 200000 violation\(s\), 0 failing the run\.\n$/);
  });
});
