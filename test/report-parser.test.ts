// The report parser's child process, without a cluster: the same answers as inflating and parsing
// in process, limits at their edges, every thread at nice 19, none of the operator's environment,
// and a child that ends when idle, starts again on demand and after a crash.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseReport, ReportError, TooLargeError } from '../operator/features/scan/report';
import { ReportParser } from '../operator/features/scan/report-parser';
import { generateTrivyReport } from './support/cyclonedx';

const specVersions = ['1.6', '1.7'];

/** The nice value of every thread of a process (field 19 of /proc/PID/task/TID/stat). */
function niceValues(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('report parser process', () => {
  const parser = new ReportParser();
  after(() => parser.close());

  it('inflates and parses in the child with the same answers as in process', async () => {
    const report = generateTrivyReport({ components: 400, vulnerabilities: 120, seed: 7 });
    const inProcess = await parseReport(report.json, { specVersions });
    const facts = await parser.parse(gzipSync(report.json), { specVersions });
    assert.deepEqual(facts, { summary: inProcess.summary, sha256: inProcess.sha256, bytes: Buffer.byteLength(report.json) });
    // Stored, not compressed: a gzip of several 256 KiB pieces, reassembled in order by the child.
    const stored = gzipSync(report.json, { level: 0 });
    assert.ok(stored.length > 2 * 256 * 1024, `${stored.length} bytes`);
    assert.deepEqual(await parser.parse(stored, { specVersions }), facts);
    await assert.rejects(parser.parse(gzipSync('[1]')), (err: unknown) => err instanceof ReportError && err.reason === 'InvalidReport');
    await assert.rejects(parser.parse(Buffer.from('not gzip')), (err: unknown) => err instanceof ReportError && /not a gzip stream/.test(err.message));
  });

  it('refuses a report one byte over the decompressed limit, not one exactly at it', async () => {
    const report = generateTrivyReport({ components: 30, vulnerabilities: 10, seed: 5 });
    const size = Buffer.byteLength(report.json);
    const gzip = gzipSync(report.json);
    assert.equal((await parser.parse(gzip, { specVersions }, { maxDecompressedBytes: size })).bytes, size);
    await assert.rejects(parser.parse(gzip, { specVersions }, { maxDecompressedBytes: size - 1 }), (err: unknown) => err instanceof TooLargeError && err.which === 'decompressed' && err.message.includes(String(size - 1)));
  });

  it('compresses again only a gzip larger than recompressOver', async () => {
    const report = generateTrivyReport({ components: 200, vulnerabilities: 50, seed: 9 });
    const loose = gzipSync(report.json, { level: 1 });
    assert.equal((await parser.parse(loose, { specVersions }, { recompressOver: loose.length })).gzip, undefined, 'at the bound: stored as it arrived');
    const tight = (await parser.parse(loose, { specVersions }, { recompressOver: loose.length - 1 })).gzip;
    assert.ok(tight && tight.length < loose.length, 'one byte over: compressed again, smaller');
    assert.equal(gunzipSync(tight).toString('utf8'), report.json);
  });

  it('runs every thread at nice 19, without the operator\'s environment', async () => {
    process.env.SECURESTACK_TEST_SECRET = 'redis://:hunter2@127.0.0.1:6379';
    const fresh = new ReportParser();
    const ownBefore = [...new Set(niceValues(process.pid))];
    try {
      await fresh.checkValidator();
      const pid = fresh.pid ?? 0;
      const values = niceValues(pid);
      assert.ok(values.length >= 2, 'the child has helper threads too');
      assert.deepEqual([...new Set(values)], [19], `nice values ${values.join(',')}`);
      assert.deepEqual([...new Set(niceValues(process.pid))], ownBefore, 'the operator itself keeps its priority');
      assert.notDeepEqual(ownBefore, [19]);
      const names = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((entry) => entry.split('=')[0]);
      assert.deepEqual(names.filter((name) => !name?.startsWith('NODE_CHANNEL_')), [], 'nothing but the IPC channel\'s own variables');
    } finally {
      delete process.env.SECURESTACK_TEST_SECRET;
      await fresh.close();
    }
  });

  it('starts a new child after a crash and fails only what the crashed one held', async () => {
    const crashing = new ReportParser();
    try {
      await crashing.checkValidator();
      const first = crashing.pid ?? 0;
      const held = crashing.parse(gzipSync(generateTrivyReport({ components: 3000, vulnerabilities: 1000, seed: 1 }).json), { specVersions });
      process.kill(first, 'SIGKILL');
      await assert.rejects(held, /the report parser exited \(SIGKILL\)|EPIPE|channel closed/);
      const report = generateTrivyReport({ components: 20, vulnerabilities: 5, seed: 3 });
      assert.equal((await crashing.parse(gzipSync(report.json), { specVersions })).bytes, Buffer.byteLength(report.json));
      assert.notEqual(crashing.pid, first, 'a new child answered');
    } finally {
      await crashing.close();
    }
  });

  it('ends an idle child after the idle time, not before, and starts a new one for the next report', async () => {
    const idle = new ReportParser(300);
    try {
      await idle.checkValidator();
      assert.equal(idle.running, true);
      await sleep(100);
      assert.equal(idle.running, true, 'still there within the idle time');
      // A call in between restarts the idle time.
      await idle.checkValidator();
      await sleep(200);
      assert.equal(idle.running, true, 'the idle time counts from the last answer');
      await sleep(400);
      assert.equal(idle.running, false, 'ended once idle for longer');
      const report = generateTrivyReport({ components: 20, vulnerabilities: 5, seed: 3 });
      const facts = await idle.parse(gzipSync(report.json), { specVersions });
      assert.deepEqual(facts.summary.summary, (await parseReport(report.json, { specVersions })).summary.summary);
      assert.equal(idle.running, true, 'a new child answered');
    } finally {
      await idle.close();
    }
  });
});
