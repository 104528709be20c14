// The operator's registry client (operator/platform/registry): reference parsing and pull-secret matching
// as unit tests, the HTTP edge cases (Bearer tokens, limits, redirects, timeouts) against a small
// scripted HTTP server, and digest resolution against the REAL registries of the test plane
// (Debian's docker-registry, started by test/env/start.sh with the fixture images of images.sh).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  credentialsFor,
  formatReference,
  InvalidReferenceError,
  InvalidResponseError,
  isInsecureRegistry,
  matchingCredentials,
  MEDIA_TYPES,
  NetworkError,
  NotFoundError,
  parseChallenge,
  parsePullSecret,
  parseReference,
  RegistryClient,
  RegistryError,
  TooLargeError,
  UnauthorizedError,
  withDigest,
  type PullSecretData,
} from '../operator/platform/registry';
import { kubeconfigPath } from './support/cluster';

// ------------------------------------------------------------------------------------------------
// helpers

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

function dockerConfigJsonSecret(auths: Record<string, object>, name = 'pull'): PullSecretData {
  return { name, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } };
}

function dockerCfgSecret(auths: Record<string, object>, name = 'legacy'): PullSecretData {
  return { name, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify(auths)) } };
}

function userPass(user: string, pass: string): object {
  return { auth: b64(`${user}:${pass}`) };
}

async function rejectsWith<T extends RegistryError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
  message?: RegExp,
): Promise<T> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

// ------------------------------------------------------------------------------------------------
describe('image references', () => {
  const cases: [string, string, { registry: string; repository: string; tag?: string; digest?: string }][] = [
    ['nginx', 'docker.io/library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.27', 'docker.io/library/nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['docker.io/nginx', 'docker.io/library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1', { registry: 'docker.io', repository: 'library/nginx', tag: '1' }],
    ['registry-1.docker.io/org/app', 'docker.io/org/app:latest', { registry: 'docker.io', repository: 'org/app', tag: 'latest' }],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io/org/team/app:v1.2.3', { registry: 'ghcr.io', repository: 'org/team/app', tag: 'v1.2.3' }],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest', { registry: '127.0.0.1:5000', repository: 'app', tag: 'latest' }],
    ['localhost/app:dev', 'localhost/app:dev', { registry: 'localhost', repository: 'app', tag: 'dev' }],
    ['localhost:5000/a/b_c__d-e.f:tag_1.0-x', 'localhost:5000/a/b_c__d-e.f:tag_1.0-x', { registry: 'localhost:5000', repository: 'a/b_c__d-e.f', tag: 'tag_1.0-x' }],
    ['Registry.Example.com/app', 'registry.example.com/app:latest', { registry: 'registry.example.com', repository: 'app', tag: 'latest' }],
    ['[::1]:5000/app:1', '[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1' }],
  ];
  for (const [input, formatted, expected] of cases) {
    it(`parses ${input}`, () => {
      const ref = parseReference(input);
      assert.deepEqual(ref, expected);
      assert.equal(formatReference(ref), formatted);
    });
  }

  it('parses digests, with and without a tag next to them', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(parseReference(`alpine@${digest}`), { registry: 'docker.io', repository: 'library/alpine', digest });
    const both = parseReference(`quay.io/org/app:1.0@${digest}`);
    assert.deepEqual(both, { registry: 'quay.io', repository: 'org/app', tag: '1.0', digest });
    assert.equal(formatReference(both), `quay.io/org/app:1.0@${digest}`);
    assert.equal(withDigest(both, digest), `quay.io/org/app@${digest}`);
    const sha512 = `sha512:${'b'.repeat(128)}`;
    assert.equal(parseReference(`host:1/app@${sha512}`).digest, sha512);
  });

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['Nginx', /repository 'library\/Nginx'/],
    ['nginx:', /tag '' is not valid/],
    ['nginx:-bad', /tag '-bad'/],
    [`nginx:${'x'.repeat(129)}`, /tag/],
    ['nginx@sha256:abc', /digest 'sha256:abc' is not valid/],
    [`nginx@md5:${'a'.repeat(32)}`, /algorithm 'md5'/],
    [`nginx@sha256:${'A'.repeat(64)}`, /lower-case hex/],
    [`nginx@sha256:${'a'.repeat(63)}`, /64 lower-case hex/],
    ['https://ghcr.io/org/app', /URL scheme/],
    ['ghcr.io/org//app', /repository/],
    ['ghcr.io/', /repository ''/],
    ['a b', /white space/],
    ['ex_ample.com:5000/app', /registry host/],
    [`ghcr.io/${'a'.repeat(250)}`, /longer than 255/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects '${input.length > 40 ? `${input.slice(0, 40)}...` : input}'`, () => {
      assert.throws(() => parseReference(input), (err: unknown) => {
        assert.ok(err instanceof InvalidReferenceError);
        assert.equal(err.reason, 'InvalidReference');
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

// ------------------------------------------------------------------------------------------------
describe('pull secret credentials', () => {
  it('reads kubernetes.io/dockerconfigjson with auth, or username and password', () => {
    const secret = dockerConfigJsonSecret({
      'registry.example.com': userPass('alice', 'pa:ss'),
      'other.example.com': { username: 'bob', password: 'secret' },
      'token.example.com': { identitytoken: 'refresh-me' },
      'empty.example.com': {},
    });
    assert.deepEqual(parsePullSecret(secret), [
      { key: 'registry.example.com', credentials: { username: 'alice', password: 'pa:ss' } },
      { key: 'other.example.com', credentials: { username: 'bob', password: 'secret' } },
      { key: 'token.example.com', credentials: { identityToken: 'refresh-me' } },
    ]);
    assert.deepEqual(credentialsFor([secret], 'registry.example.com', 'team/app'), {
      username: 'alice',
      password: 'pa:ss',
      source: 'pull/registry.example.com',
    });
  });

  it('reads kubernetes.io/dockercfg (the bare map) and ignores other Secret types', () => {
    const legacy = dockerCfgSecret({ 'https://quay.io': userPass('q', 'p') });
    assert.equal(credentialsFor([legacy], 'quay.io')?.username, 'q');
    const opaque: PullSecretData = { name: 'opaque', type: 'Opaque', data: { '.dockerconfigjson': legacy.data?.['.dockercfg'] ?? '' } };
    assert.deepEqual(parsePullSecret(opaque), []);
    assert.equal(credentialsFor([opaque], 'quay.io'), undefined);
  });

  it('matches every Docker Hub alias to docker.io, including the legacy https://index.docker.io/v1/', () => {
    for (const key of ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://registry.hub.docker.com']) {
      const secret = dockerConfigJsonSecret({ [key]: userPass('hub', 'pw') });
      const ref = parseReference('nginx');
      assert.equal(credentialsFor([secret], ref.registry, ref.repository)?.username, 'hub', key);
      assert.equal(credentialsFor([secret], 'ghcr.io', 'org/app'), undefined, `${key} must not match ghcr.io`);
    }
    const legacy = dockerCfgSecret({ 'https://index.docker.io/v1/': userPass('old', 'pw') });
    assert.equal(credentialsFor([legacy], 'docker.io', 'library/alpine')?.username, 'old');
  });

  it('requires the same port, supports * globs per DNS label and path prefixes', () => {
    const secret = dockerConfigJsonSecret({
      'registry.example.com:5000': userPass('port', 'x'),
      '*.example.org': userPass('glob', 'x'),
      'paths.example.net/team': userPass('team', 'x'),
    });
    assert.equal(credentialsFor([secret], 'registry.example.com:5000')?.username, 'port');
    assert.equal(credentialsFor([secret], 'registry.example.com'), undefined);
    assert.equal(credentialsFor([secret], 'registry.example.com:5001'), undefined);
    assert.equal(credentialsFor([secret], 'eu.example.org')?.username, 'glob');
    assert.equal(credentialsFor([secret], 'a.b.example.org'), undefined, 'a glob covers one label only');
    assert.equal(credentialsFor([secret], 'example.org'), undefined);
    assert.equal(credentialsFor([secret], 'paths.example.net', 'team/app')?.username, 'team');
    assert.equal(credentialsFor([secret], 'paths.example.net', 'team')?.username, 'team');
    assert.equal(credentialsFor([secret], 'paths.example.net', 'teamwork/app'), undefined);
    assert.equal(credentialsFor([secret], 'paths.example.net', 'other/app'), undefined);
  });

  it('orders matches: exact host before glob, longer path first, then Secret order', () => {
    const first = dockerConfigJsonSecret({ '*.example.com': userPass('glob', 'x'), 'r.example.com': userPass('exact-1', 'x') }, 'first');
    const second = dockerConfigJsonSecret({ 'r.example.com/team': userPass('path', 'x'), 'r.example.com': userPass('exact-2', 'x') }, 'second');
    const all = matchingCredentials([first, second], 'r.example.com', 'team/app');
    assert.deepEqual(all.map((c) => c.username), ['path', 'exact-1', 'exact-2', 'glob']);
    assert.deepEqual(all.map((c) => c.source), ['second/r.example.com/team', 'first/r.example.com', 'second/r.example.com', 'first/*.example.com']);
  });

  it('skips broken secrets when matching, and says what is wrong when parsing', () => {
    const broken: PullSecretData = { name: 'broken', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } };
    const missing: PullSecretData = { name: 'missing', type: 'kubernetes.io/dockerconfigjson', data: {} };
    const noAuths: PullSecretData = { name: 'noauths', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"x":1}') } };
    const good = dockerConfigJsonSecret({ 'r.example.com': userPass('ok', 'x') });
    assert.equal(credentialsFor([broken, missing, noAuths, good], 'r.example.com')?.username, 'ok');
    assert.throws(() => parsePullSecret(broken), /broken: its docker config is not valid JSON/);
    assert.throws(() => parsePullSecret(missing), /missing of type kubernetes.io\/dockerconfigjson has no .dockerconfigjson key/);
    assert.throws(() => parsePullSecret(noAuths), /no "auths" object/);
  });
});

// ------------------------------------------------------------------------------------------------
describe('registry client settings and challenges', () => {
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    );
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
    assert.deepEqual(
      parseChallenge('Basic realm="a, b", Bearer realm="https://t/x",scope="repository:a:pull,push"'),
      { scheme: 'bearer', params: { realm: 'https://t/x', scope: 'repository:a:pull,push' } },
    );
    assert.equal(parseChallenge('Negotiate'), undefined);
    assert.equal(parseChallenge(null), undefined);
  });

  it('uses plain HTTP only for registries listed as insecure', () => {
    const client = new RegistryClient({ insecureRegistries: ['127.0.0.1', 'registry.local:5000'] });
    assert.equal(client.baseUrl('127.0.0.1:16500'), 'http://127.0.0.1:16500');
    assert.equal(client.baseUrl('registry.local:5000'), 'http://registry.local:5000');
    assert.equal(client.baseUrl('registry.local:5001'), 'https://registry.local:5001');
    assert.equal(client.baseUrl('ghcr.io'), 'https://ghcr.io');
    assert.equal(client.baseUrl('docker.io'), 'https://registry-1.docker.io');
    assert.equal(isInsecureRegistry('LOCALHOST:5000', ['localhost']), true);
    assert.equal(isInsecureRegistry('localhost:5000', []), false);
  });
});

// ------------------------------------------------------------------------------------------------
// A scripted registry + token service over real HTTP on loopback, for what docker-registry with
// htpasswd cannot show: the Bearer flow, limits, redirects, bad digests, timeouts.
describe('registry client against a scripted HTTP registry', () => {
  let server: Server;
  let port = 0;
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
  });
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const log: { method: string; url: string; authorization?: string; host?: string }[] = [];
  let tokenRequests = 0;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    log.push({ method: req.method ?? '', url: url.pathname + url.search, authorization: req.headers.authorization, host: req.headers.host });
    const sendManifest = (body: string, digest: string, type: string = MEDIA_TYPES.ociManifest): void => {
      res.writeHead(200, { 'Content-Type': type, 'Docker-Content-Digest': digest, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const p = url.pathname;
    if (p === '/token') {
      tokenRequests++;
      const scope = url.searchParams.get('scope');
      if (url.searchParams.get('service') !== 'scripted' || scope !== 'repository:private/app:pull') {
        res.writeHead(400).end('bad token request');
      } else if (req.headers.authorization === `Basic ${b64('tok-user:tok-pass')}`) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'user-token', expires_in: 300 }));
      } else if (req.headers.authorization === undefined) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ access_token: 'anon-token' }));
      } else {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      }
      return;
    }
    if (p.startsWith('/v2/private/app/manifests/')) {
      if (req.headers.authorization === 'Bearer user-token') return sendManifest(manifest, manifestDigest);
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="scripted",scope="repository:private/app:pull"`,
        'Content-Type': 'application/json',
      });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (p === '/v2/big/app/manifests/1') {
      res.writeHead(200, { 'Content-Type': MEDIA_TYPES.ociManifest, 'Content-Length': 5000 });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(5000));
      return;
    }
    if (p === '/v2/chunked/app/manifests/1') {
      if (req.method === 'HEAD') return void res.writeHead(405).end();
      res.writeHead(200, { 'Content-Type': MEDIA_TYPES.ociManifest }); // chunked: no Content-Length
      for (let i = 0; i < 10; i++) res.write('y'.repeat(500));
      res.end();
      return;
    }
    if (p === '/v2/loop/app/manifests/1') {
      res.writeHead(302, { Location: p }).end();
      return;
    }
    if (p === '/v2/moved/app/manifests/1') {
      if (req.headers.authorization !== 'Bearer secret-token') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="scripted"` }).end();
        return;
      }
      // to another host name of the same server: credentials must not follow
      res.writeHead(307, { Location: `http://localhost:${port}/v2/target/app/manifests/1` }).end();
      return;
    }
    if (p === '/v2/target/app/manifests/1') return sendManifest(manifest, manifestDigest);
    if (p === '/v2/liar/app/manifests/1') {
      if (req.method === 'HEAD') return void res.writeHead(405).end();
      return sendManifest(manifest, `sha256:${'d'.repeat(64)}`);
    }
    if (p === '/v2/nodigest/app/manifests/1') {
      if (req.method === 'HEAD') return void res.writeHead(200, { 'Content-Type': MEDIA_TYPES.ociManifest }).end();
      res.writeHead(200, { 'Content-Type': MEDIA_TYPES.ociManifest }).end(manifest);
      return;
    }
    if (p === '/v2/broken/app/manifests/1') {
      res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'maintenance' }] }));
      return;
    }
    if (p === '/v2/slow/app/manifests/1') return; // never answers
    res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
  }

  before(async () => {
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const client = (opts: { timeoutMs?: number; maxManifestBytes?: number } = {}): RegistryClient =>
    new RegistryClient({ insecureRegistries: ['127.0.0.1', 'localhost'], ...opts });

  it('gets a Bearer token from the realm with Basic credentials, then reuses it until it expires', async () => {
    const c = client();
    const credentials = { username: 'tok-user', password: 'tok-pass' };
    tokenRequests = 0;
    const resolved = await c.resolve(`127.0.0.1:${port}/private/app:1`, { credentials });
    assert.equal(resolved.digest, manifestDigest);
    assert.equal(resolved.isIndex, false);
    assert.equal(tokenRequests, 1);
    log.length = 0;
    await c.resolve(`127.0.0.1:${port}/private/app:2`, { credentials });
    assert.equal(tokenRequests, 1, 'the cached token is used');
    assert.deepEqual(log.map((l) => [l.method, l.authorization]), [['HEAD', 'Bearer user-token']], 'no 401 round trip');
  });

  it('fetches a token from pull secrets, and fails Unauthorized on wrong or missing credentials', async () => {
    const secret = dockerConfigJsonSecret({ [`127.0.0.1:${port}`]: userPass('tok-user', 'tok-pass') });
    assert.equal((await client().resolve(`127.0.0.1:${port}/private/app:1`, { pullSecrets: [secret] })).digest, manifestDigest);
    const wrong = dockerConfigJsonSecret({ [`127.0.0.1:${port}`]: userPass('tok-user', 'nope') }, 'wrong');
    await rejectsWith(client().resolve(`127.0.0.1:${port}/private/app:1`, { pullSecrets: [wrong] }), UnauthorizedError,
      /token service 127\.0\.0\.1:\d+ refused a token .*bad credentials.*credentials from wrong\/127\.0\.0\.1:\d+ were rejected/);
    // anonymous: a token is issued, but it does not open this repository
    await rejectsWith(client().resolve(`127.0.0.1:${port}/private/app:1`), UnauthorizedError,
      /denied access to private\/app \(HTTP 401.*no pull secret has credentials/);
  });

  it('limits manifest size, by Content-Length and while streaming', async () => {
    await rejectsWith(client({ maxManifestBytes: 1024 }).resolve(`127.0.0.1:${port}/big/app:1`), TooLargeError, /5000 bytes, over the limit of 1024/);
    await rejectsWith(client({ maxManifestBytes: 1024 }).resolve(`127.0.0.1:${port}/chunked/app:1`), TooLargeError, /over the limit of 1024 bytes/);
  });

  it('follows a few redirects, dropping credentials on another host', async () => {
    await rejectsWith(client().resolve(`127.0.0.1:${port}/loop/app:1`), InvalidResponseError, /more than 3 redirects/);
    log.length = 0;
    const resolved = await client().resolve(`127.0.0.1:${port}/moved/app:1`, { credentials: { registryToken: 'secret-token' } });
    assert.equal(resolved.digest, manifestDigest);
    assert.ok(log.some((l) => l.url.startsWith('/v2/moved/') && l.authorization === 'Bearer secret-token'));
    const atTarget = log.filter((l) => l.url.startsWith('/v2/target/'));
    assert.ok(atTarget.length > 0);
    for (const l of atTarget) assert.equal(l.host, `localhost:${port}`);
    for (const l of atTarget) assert.equal(l.authorization, undefined, 'no Authorization after a cross-host redirect');
  });

  it('checks the announced digest against the content, and computes it when none is announced', async () => {
    await rejectsWith(client().resolve(`127.0.0.1:${port}/liar/app:1`), InvalidResponseError, /has digest sha256:[a-f0-9]{64}, but the registry announced sha256:d{64}/);
    assert.equal((await client().resolve(`127.0.0.1:${port}/nodigest/app:1`)).digest, manifestDigest);
  });

  it('reports 5xx, timeouts and unreachable registries as retryable Network errors, 404 as NotFound', async () => {
    const e1 = await rejectsWith(client().resolve(`127.0.0.1:${port}/broken/app:1`), NetworkError, /HTTP 503: UNAVAILABLE: maintenance/);
    assert.equal(e1.retryable, true);
    await rejectsWith(client({ timeoutMs: 300 }).resolve(`127.0.0.1:${port}/slow/app:1`), NetworkError, /timed out after 300 ms/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await rejectsWith(client().resolve(`127.0.0.1:${closedPort}/any/app:1`), NetworkError, /cannot reach the registry \(.*ECONNREFUSED/);
    const nf = await rejectsWith(client().resolve(`127.0.0.1:${port}/unknown/app:1`), NotFoundError, /NAME_UNKNOWN/);
    assert.equal(nf.retryable, false);
  });
});

// ------------------------------------------------------------------------------------------------
// The real registries of the test plane.

interface Plane {
  run: string;
  registry: string;
  authRegistry: string;
  images: Record<string, string>;
  dockerConfigJson: string;
}

const HOW_TO =
  'run `npm test` (it starts the plane with its registries), or `bash test/env/start.sh` and export ' +
  'KUBECONFIG=<the path it prints> (or SECURESTACK_RUN_DIR=<its run dir>)';

function loadPlane(): Plane {
  const run = process.env.SECURESTACK_RUN_DIR || path.dirname(kubeconfigPath());
  const read = (file: string): string => {
    const full = path.join(run, file);
    if (!existsSync(full)) {
      throw new Error(`The test registries are not running (${full} does not exist): ${HOW_TO}.`);
    }
    return readFileSync(full, 'utf8').trim();
  };
  const host = (url: string): string => url.replace(/^https?:\/\//, '');
  return {
    run,
    registry: host(read('registry-url')),
    authRegistry: host(read('auth-registry-url')),
    images: JSON.parse(read('images.json')) as Record<string, string>,
    dockerConfigJson: read('auth-registry-dockerconfig.json'),
  };
}

describe('registry client against the test plane registries', () => {
  let plane: Plane;
  let client: RegistryClient;
  const digestOf = (ref: string): string => {
    const digest = plane.images[ref];
    assert.ok(digest, `images.json (${plane.run}) has no entry for ${ref}`);
    return digest;
  };

  before(async () => {
    plane = loadPlane();
    client = new RegistryClient({ insecureRegistries: [plane.registry, plane.authRegistry], timeoutMs: 10_000 });
    const res = await fetch(`http://${plane.registry}/v2/`).catch((err: unknown) => {
      throw new Error(`The test registry at http://${plane.registry} does not answer (${String(err)}): ${HOW_TO}.`);
    });
    assert.equal(res.status, 200, `GET http://${plane.registry}/v2/`);
  });

  it('resolves each fixture tag to the digest images.sh recorded', async () => {
    for (const name of ['debian-app:1', 'debian-app:1-arm64', 'alpine-app:1', 'node-app:1', 'multiarch:1']) {
      const ref = `${plane.registry}/fixtures/${name}`;
      const resolved = await client.resolve(ref);
      assert.equal(resolved.digest, digestOf(ref), ref);
    }
    const alpine = await client.resolve(`${plane.registry}/fixtures/alpine-app:1`);
    assert.equal(alpine.mediaType, MEDIA_TYPES.dockerManifest, 'alpine-app is a Docker v2 manifest');
    const debian = await client.resolve(`${plane.registry}/fixtures/debian-app:1`);
    assert.equal(debian.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(debian.isIndex, false);
    assert.equal(debian.imageDigest, debian.digest);
  });

  it('resolves a digest reference to itself', async () => {
    for (const name of ['debian-app:1', 'multiarch:1']) {
      const digest = digestOf(`${plane.registry}/fixtures/${name}`);
      const repo = name.split(':')[0] ?? '';
      const resolved = await client.resolve(`${plane.registry}/fixtures/${repo}@${digest}`);
      assert.equal(resolved.digest, digest);
      assert.equal(resolved.reference.digest, digest);
    }
  });

  it('resolves the multi-arch index to its linux/amd64 image and lists both platforms', async () => {
    const ref = `${plane.registry}/fixtures/multiarch:1`;
    const amd64 = digestOf(`${plane.registry}/fixtures/debian-app:1`);
    const arm64 = digestOf(`${plane.registry}/fixtures/debian-app:1-arm64`);
    const resolved = await client.resolve(ref);
    assert.equal(resolved.isIndex, true);
    assert.equal(resolved.mediaType, MEDIA_TYPES.ociIndex);
    assert.equal(resolved.digest, digestOf(ref));
    assert.equal(resolved.imageDigest, amd64);
    assert.deepEqual(resolved.platform, { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(
      resolved.manifests?.map((m) => [m.platform?.os, m.platform?.architecture, m.digest]),
      [['linux', 'amd64', amd64], ['linux', 'arm64', arm64]],
    );
    const arm = await client.resolve(ref, { platform: 'linux/arm64' });
    assert.equal(arm.imageDigest, arm64);
    const armClient = new RegistryClient({ insecureRegistries: [plane.registry], platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal((await armClient.resolve(ref)).imageDigest, arm64);
    await rejectsWith(client.resolve(ref, { platform: 'linux/s390x' }), NotFoundError, /without an image for linux\/s390x \(it has linux\/amd64, linux\/arm64\)/);
  });

  it('gets Unauthorized from the auth registry without credentials', async () => {
    const err = await rejectsWith(client.resolve(`${plane.authRegistry}/private/debian-app:1`), UnauthorizedError,
      /denied access to private\/debian-app \(HTTP 401\).*no pull secret has credentials for 127\.0\.0\.1:\d+/);
    assert.equal(err.reason, 'Unauthorized');
    assert.equal(err.status, 401);
    // a secret for another registry does not count
    const other = dockerConfigJsonSecret({ 'registry.example.com': userPass('securestack', 'x') });
    await rejectsWith(client.resolve(`${plane.authRegistry}/private/debian-app:1`, { pullSecrets: [other] }), UnauthorizedError);
  });

  it('resolves on the auth registry with the dockerconfigjson (and dockercfg) for that host', async () => {
    const ref = `${plane.authRegistry}/private/debian-app:1`;
    const secret: PullSecretData = { name: 'regcred', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(plane.dockerConfigJson) } };
    const resolved = await client.resolve(ref, { pullSecrets: [secret] });
    assert.equal(resolved.digest, digestOf(ref));
    assert.equal(resolved.digest, digestOf(`${plane.registry}/fixtures/debian-app:1`), 'the same image as the anonymous one');
    const auths = (JSON.parse(plane.dockerConfigJson) as { auths: Record<string, object> }).auths;
    const legacy = dockerCfgSecret(Object.fromEntries(Object.entries(auths).map(([k, v]) => [`http://${k}`, v])));
    assert.equal((await client.resolve(ref, { pullSecrets: [legacy] })).digest, digestOf(ref));
  });

  it('gets Unauthorized with a wrong password, naming the secret', async () => {
    const wrong = dockerConfigJsonSecret({ [plane.authRegistry]: userPass('securestack', 'wrong-password') }, 'badcred');
    await rejectsWith(client.resolve(`${plane.authRegistry}/private/debian-app:1`, { pullSecrets: [wrong] }), UnauthorizedError,
      new RegExp(`credentials from badcred/${plane.authRegistry.replace(/\./g, '\\.')} were rejected`));
  });

  it('gets NotFound for an unknown tag and an unknown repository', async () => {
    await rejectsWith(client.resolve(`${plane.registry}/fixtures/debian-app:does-not-exist`), NotFoundError, /debian-app:does-not-exist not found.*MANIFEST_UNKNOWN/);
    await rejectsWith(client.resolve(`${plane.registry}/fixtures/no-such-image:1`), NotFoundError, /not found/);
    await rejectsWith(client.resolve(`${plane.registry}/fixtures/debian-app@sha256:${'0'.repeat(64)}`), NotFoundError);
  });

  it('fails with a Network error over HTTPS when the registry is not listed as insecure', async () => {
    const strict = new RegistryClient({ timeoutMs: 5_000 });
    await rejectsWith(strict.resolve(`${plane.registry}/fixtures/debian-app:1`), NetworkError, /HEAD https:\/\/127\.0\.0\.1:\d+\/v2\/fixtures\/debian-app\/manifests\/1: cannot reach the registry/);
  });
});
