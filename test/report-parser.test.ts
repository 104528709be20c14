// The report parser's worker thread, without a cluster: the same answers as parseReport, the bytes
// handed over instead of copied, and a worker that ends when idle and starts again on demand.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { parseReport, ReportError } from '../operator/features/scan/report';
import { ReportParser } from '../operator/features/scan/report-parser';
import { generateTrivyReport } from './support/cyclonedx';

describe('report parser worker', () => {
  const parser = new ReportParser();
  after(() => parser.close());

  it('parses in the worker with the same answers as parseReport, taking the bytes over', async () => {
    const report = generateTrivyReport({ components: 400, vulnerabilities: 120, seed: 7 });
    const inProcess = await parseReport(report.json, { specVersions: ['1.6', '1.7'] });
    const json = Buffer.concat([Buffer.from(report.json)]);
    const facts = await parser.parse(json, { specVersions: ['1.6', '1.7'] });
    assert.deepEqual(facts, { summary: inProcess.summary, sha256: inProcess.sha256 });
    assert.equal(json.length, 0, 'the JSON memory moved to the worker instead of being copied');
    await assert.rejects(parser.parse(Buffer.from('[1]')), (err: unknown) => err instanceof ReportError && err.reason === 'InvalidReport');
  });

  it('ends an idle worker after the idle time, not before, and starts a new one for the next report', async () => {
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
      const facts = await idle.parse(Buffer.from(report.json), { specVersions: ['1.6', '1.7'] });
      assert.deepEqual(facts.summary.summary, (await parseReport(report.json, { specVersions: ['1.6', '1.7'] })).summary.summary);
      assert.equal(idle.running, true, 'a new worker answered');
    } finally {
      await idle.close();
    }
  });
});
