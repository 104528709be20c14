// The operator runs with the same V8 flags wherever it starts (operator/platform/node-flags.ts):
// the image's entry point, `npm run operator` and the demo name them too, and the flag does bound
// V8's young generation on the Node that runs the tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { operatorNodeFlags } from '../operator/platform/node-flags';

const root = path.resolve(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const mib = 1024 * 1024;

describe('the operator\'s Node flags', () => {
  it('are the same in the image, npm run operator and the demo', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    assert.deepEqual(JSON.parse(entrypoint ?? '[]'), ['node', ...operatorNodeFlags, 'dist/operator/main.js']);
    const command = ['node', ...operatorNodeFlags, 'dist/operator/main.js'].join(' ');
    assert.equal((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.operator, command);
    assert.match(read('scripts/demo.sh'), new RegExp(`^\\s*${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} >`, 'm'));
  });

  it('bound the young generation to two semi-spaces of 8 MiB under a burst of allocation', () => {
    // Many short-lived objects with some survivors: without the bound, V8 grows the semi-spaces
    // towards 64 MiB each.
    const script = `
      const v8 = require('node:v8');
      let keep = [];
      for (let i = 0; i < 3e6; i++) { const o = { i, s: 'x' + i }; if (i % 50 === 0) keep.push(o); if (keep.length > 20000) keep = []; }
      const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      process.stdout.write(String(space.space_size));`;
    const bounded = spawnSync(process.execPath, [...operatorNodeFlags, '-e', script], { encoding: 'utf8' });
    assert.equal(bounded.status, 0, bounded.stderr);
    assert.ok(Number(bounded.stdout) <= 2 * 8 * mib, `new space ${Number(bounded.stdout) / mib} MiB`);
    const free = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(free.status, 0, free.stderr);
    assert.ok(Number(free.stdout) > 2 * 8 * mib, `without the flag the same burst grows new space past 16 MiB (${Number(free.stdout) / mib} MiB), so the bound is the flag's doing`);
  });
});
