// The node player's pure helpers: how image references find their map entry, how mount paths are
// rewritten for processes that are not in a container, and Kubernetes $(VAR) expansion.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { expandVars, imageRepository, lookupImage, parseImageMap, parseQuantity, rewritePaths } from './env/nodeplayer/util';

describe('node player helpers', () => {
  it('strips tags and digests but not registry ports', () => {
    assert.equal(imageRepository('docker.io/aquasec/trivy:0.67.2'), 'docker.io/aquasec/trivy');
    assert.equal(imageRepository('ghcr.io/securestack/securestack@sha256:abc'), 'ghcr.io/securestack/securestack');
    assert.equal(imageRepository('127.0.0.1:5000/x/y:1@sha256:abc'), '127.0.0.1:5000/x/y');
    assert.equal(imageRepository('127.0.0.1:5000/x/y'), '127.0.0.1:5000/x/y');
    assert.equal(imageRepository('busybox'), 'busybox');
  });

  it('finds Docker Hub images under any of their spellings', () => {
    const map = parseImageMap(
      JSON.stringify({ 'docker.io/aquasec/trivy': { entrypoint: ['/bin/trivy'] }, busybox: { entrypoint: ['/bin/sh'] } }),
      'test',
    );
    assert.deepEqual(lookupImage(map, 'aquasec/trivy:0.67.2')?.entrypoint, ['/bin/trivy']);
    assert.deepEqual(lookupImage(map, 'index.docker.io/aquasec/trivy')?.entrypoint, ['/bin/trivy']);
    assert.deepEqual(lookupImage(map, 'docker.io/library/busybox:1.36')?.entrypoint, ['/bin/sh']);
    assert.equal(lookupImage(map, 'ghcr.io/aquasec/trivy:1'), undefined);
    assert.throws(() => parseImageMap('{"x": {"entrypoint": "node"}}', 'm.json'), /m\.json: entry x: entrypoint/);
  });

  it('rewrites mount paths only as whole path prefixes, longest first', () => {
    const m = [
      { from: '/tmp', to: '/run/p/tmp' },
      { from: '/tmp/cache/', to: '/run/p/cache' },
      { from: '/report', to: '/run/p/report' },
    ];
    assert.equal(rewritePaths('/tmp', m), '/run/p/tmp');
    assert.equal(rewritePaths('--output=/tmp/r.json', m), '--output=/run/p/tmp/r.json');
    assert.equal(rewritePaths('/tmp/cache/db', m), '/run/p/cache/db');
    assert.equal(rewritePaths('a:/report:/tmp', m), 'a:/run/p/report:/run/p/tmp');
    assert.equal(rewritePaths('cat /report/x; ls /tmp', m), 'cat /run/p/report/x; ls /run/p/tmp');
    assert.equal(rewritePaths('/var/tmp /tmpfoo /tmp.x x/tmp', m), '/var/tmp /tmpfoo /tmp.x x/tmp');
    assert.equal(rewritePaths('/anything', [{ from: '/', to: '/nope' }]), '/anything');
  });

  it('expands $(VAR) like the kubelet', () => {
    const env: Record<string, string> = { A: 'x', B: 'y' };
    const get = (n: string): string | undefined => env[n];
    assert.equal(expandVars('$(A)-$(B)', get), 'x-y');
    assert.equal(expandVars('$(MISSING)', get), '$(MISSING)');
    assert.equal(expandVars('$$(A)', get), '$(A)');
    assert.equal(expandVars('$A $(A', get), '$A $(A');
    assert.equal(expandVars('cost: 5$', get), 'cost: 5$');
  });

  it('parses resource quantities', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('1Gi'), 2 ** 30);
    assert.equal(parseQuantity('2'), 2);
    assert.ok(Number.isNaN(parseQuantity('lots')));
  });
});
