// Signed notifications, the pure parts (operator/features/notify): Standard Webhooks signing
// against the specification's published vector, receiver parsing with every refusal, the address
// guard at the edge of each refused range, the back-off schedule, the queue bound and dedupe.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { ConfigError } from '../operator/platform/config';
import { addressRefusal, guardedLookup, hostnameRefusal, parseAddress, parseCidr } from '../operator/features/notify/address-guard';
import { backoffDelay, parseRetryAfter } from '../operator/features/notify/backoff';
import { DeliveryQueue, IdFifo, RecentIds, type Delivery } from '../operator/features/notify/queue';
import { maxReceivers, maxUrlLength, parseReceivers } from '../operator/features/notify/receivers';
import { decodeSigningKey, deliveryId, sign, signedHeaders, verify } from '../operator/features/notify/signing';
import { completionEvents } from '../operator/features/scan/imagescan';
import type { ImageScan } from '../operator/api/types.generated';
import type { ScanSummary } from '../operator/features/scan/report';

describe('signing (Standard Webhooks v1)', () => {
  // The example in the Standard Webhooks specification and its reference libraries.
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const timestamp = 1614265330;
  const body = '{"test": 2432232314}';

  it('matches the published vector', () => {
    assert.equal(sign(decodeSigningKey(secret), id, timestamp, body), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    // The prefix is optional, as in the reference libraries.
    assert.equal(sign(decodeSigningKey(secret.slice(6)), id, timestamp, body), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies what it signs; a tampered body, timestamp, id or key fails; outside the window fails', () => {
    const key = decodeSigningKey(secret);
    const headers = signedHeaders(key, id, timestamp, body);
    assert.deepEqual(Object.keys(headers).sort(), ['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    assert.equal(verify(key, headers, body, timestamp), true);
    assert.equal(verify(key, headers, body, timestamp + 300), true, 'at the edge of the 5-minute window');
    assert.equal(verify(key, headers, body, timestamp + 301), false, 'one second past the window');
    assert.equal(verify(key, headers, body.replace('2432232314', '2432232315'), timestamp), false, 'tampered body');
    assert.equal(verify(key, { ...headers, 'webhook-timestamp': String(timestamp + 1) }, body, timestamp), false, 'tampered timestamp');
    assert.equal(verify(key, { ...headers, 'webhook-id': 'msg_other' }, body, timestamp), false, 'tampered id');
    assert.equal(verify(decodeSigningKey(Buffer.alloc(32, 7).toString('base64')), headers, body, timestamp), false, 'another key');
    // Several signatures (a key rotation): any matching v1 entry verifies.
    assert.equal(verify(key, { ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}` }, body, timestamp), true);
    assert.equal(verify(key, { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') }, body, timestamp), false);
  });

  it('refuses keys that are not base64 or not 24-64 bytes', () => {
    assert.equal(decodeSigningKey(Buffer.alloc(24).toString('base64')).length, 24);
    assert.equal(decodeSigningKey(Buffer.alloc(64).toString('base64')).length, 64);
    assert.throws(() => decodeSigningKey(Buffer.alloc(23).toString('base64')), /24-64 bytes, got 23/);
    assert.throws(() => decodeSigningKey(Buffer.alloc(65).toString('base64')), /24-64 bytes, got 65/);
    assert.throws(() => decodeSigningKey('not base64!'), /must be base64/);
  });

  it('derives one delivery id per receiver and logical event', () => {
    assert.equal(deliveryId('a', 'k1'), deliveryId('a', 'k1'));
    assert.notEqual(deliveryId('a', 'k1'), deliveryId('b', 'k1'));
    assert.notEqual(deliveryId('a', 'k1'), deliveryId('a', 'k2'));
    assert.match(deliveryId('a', 'k1'), /^msg_[0-9a-f]{32}$/);
  });
});

describe('receiver configuration', () => {
  const good = { name: 'ops', url: 'https://hooks.example.com/securestack', events: ['scan.failed'], secret: { name: 'ops-hook' } };
  const parse = (receivers: unknown): ReturnType<typeof parseReceivers> => parseReceivers(JSON.stringify(receivers));
  const refused = (receivers: unknown, message: RegExp): void => {
    assert.throws(() => parse(receivers), (err: unknown) => err instanceof ConfigError && /^invalid setting SECURESTACK_NOTIFY_RECEIVERS: /.test(err.message) && message.test(err.message) && !err.message.includes('\n'));
  };

  it('parses a receiver with defaults, "*" and explicit exceptions', () => {
    const [receiver] = parse([{ ...good, events: ['*'], allowAddresses: ['169.254.10.0/24'], allowInsecureHttp: false }]);
    assert.ok(receiver);
    assert.equal(receiver.secret.key, 'signingKey');
    assert.equal(receiver.events.size, 7);
    assert.equal(receiver.allowAddresses[0]?.text, '169.254.10.0/24');
    assert.deepEqual(parse([]), []);
  });

  it('refuses each mistake with one line naming the setting and the receiver', () => {
    assert.throws(() => parseReceivers('[{'), /invalid setting SECURESTACK_NOTIFY_RECEIVERS: not JSON/);
    assert.throws(() => parseReceivers('{}', 'SECURESTACK_NOTIFY_RECEIVERS_FILE'), /invalid setting SECURESTACK_NOTIFY_RECEIVERS_FILE: expected a JSON array/);
    refused([{ ...good, url: 'not a url' }], /receiver 'ops': url 'not a url' is not a URL/);
    refused([{ ...good, url: 'http://hooks.example.com/' }], /receiver 'ops': .*plain http: use https, or set allowInsecureHttp/);
    refused([{ ...good, url: 'ftp://hooks.example.com/' }], /must be https/);
    refused([{ ...good, url: 'https://user:pw@hooks.example.com/' }], /must not carry a user name or password/);
    refused([{ ...good, url: 'https://hooks.example.com/#x' }], /must not have a #fragment/);
    refused([{ ...good, events: ['scan.finished'] }], /receiver 'ops': unknown event 'scan.finished' \(known: scan.completed, /);
    refused([{ ...good, events: [] }], /events must be a non-empty list/);
    refused([good, { ...good }], /duplicate receiver name 'ops'/);
    refused([{ ...good, name: 'Ops' }], /receiver 'Ops': name must be a DNS-1123 label/);
    refused([{ ...good, secret: 'ops-hook' }], /secret must be an object/);
    refused([{ ...good, secret: { name: 'Bad_Name' } }], /secret.name must be a Secret name/);
    refused([{ ...good, secret: { name: 'ops', key: 'a/b' } }], /secret.key must be a Secret data key/);
    refused([{ ...good, secret: { name: 'ops', namespace: 'x' } }], /unknown field\(s\) in secret: namespace/);
    refused([{ ...good, evnets: ['scan.failed'] }], /receiver 'ops': unknown field\(s\) evnets/);
    refused([{ ...good, caBundle: 'hello' }], /caBundle must be PEM text/);
    refused([{ ...good, caBundle: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }], /caBundle holds a certificate that does not parse/);
    refused([{ ...good, allowAddresses: ['169.254.0.0/33'] }], /allowAddresses: '169.254.0.0\/33' is not a CIDR/);
    refused([{ ...good, allowInsecureHttp: 'yes' }], /allowInsecureHttp must be true or false/);
    refused(['ops'], /receiver #0: expected an object/);
  });

  it('bounds: receiver count, URL length and name length at the edge and one past', () => {
    const many = (count: number): unknown[] => Array.from({ length: count }, (_, index) => ({ ...good, name: `r${index}` }));
    assert.equal(parse(many(maxReceivers)).length, maxReceivers);
    refused(many(maxReceivers + 1), new RegExp(`${maxReceivers + 1} receivers, at most ${maxReceivers}`));
    const base = 'https://hooks.example.com/';
    assert.equal(parse([{ ...good, url: base + 'a'.repeat(maxUrlLength - base.length) }]).length, 1);
    refused([{ ...good, url: base + 'a'.repeat(maxUrlLength - base.length + 1) }], /url is longer than 2048/);
    assert.equal(parse([{ ...good, name: 'a'.repeat(63) }]).length, 1);
    refused([{ ...good, name: 'a'.repeat(64) }], /name must be a DNS-1123 label/);
  });

  it('plain http only with allowInsecureHttp', () => {
    assert.equal(parse([{ ...good, url: 'http://10.0.0.1/', allowInsecureHttp: true }])[0]?.url.protocol, 'http:');
  });
});

describe('address guard', () => {
  const cases: Array<[string, boolean]> = [
    ['169.254.0.0', true], ['169.254.255.255', true], ['169.253.255.255', false], ['169.255.0.0', false],
    ['169.254.169.254', true], ['169.254.170.2', true],
    ['fe80::', true], ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true], ['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false], ['fec0::', false],
    ['fd00:ec2::254', true], ['fd00:ec2::253', false], ['fd00:ec2::255', false],
    ['100.100.100.200', true], ['100.100.100.199', false], ['100.100.100.201', false],
    ['168.63.129.16', true], ['168.63.129.17', false],
    ['192.0.0.192', true], ['192.0.0.193', false],
    // IPv4-mapped, IPv4-compatible and NAT64 forms reach the IPv4 host.
    ['::ffff:169.254.169.254', true], ['::ffff:a9fe:a9fe', true], ['::ffff:169.253.255.255', false],
    ['64:ff9b::169.254.169.254', true], ['::169.254.169.254', true],
    ['127.0.0.1', false], ['::1', false], ['10.0.0.1', false], ['8.8.8.8', false], ['2001:db8::1', false],
  ];
  for (const [address, refused] of cases) {
    it(`${address} is ${refused ? 'refused' : 'allowed'}`, () => {
      assert.equal(addressRefusal(address) !== undefined, refused, addressRefusal(address));
    });
  }

  it('names the metadata service, and an explicit allowAddresses entry lets exactly that through', () => {
    assert.match(addressRefusal('169.254.169.254') ?? '', /cloud metadata service.*allowAddresses/);
    assert.match(addressRefusal('169.254.1.1') ?? '', /link-local range 169.254.0.0\/16/);
    const allow = [parseCidr('169.254.10.0/24')].filter((cidr) => cidr !== undefined);
    assert.equal(addressRefusal('169.254.10.7', allow), undefined);
    assert.notEqual(addressRefusal('169.254.11.7', allow), undefined);
    assert.equal(addressRefusal('::ffff:169.254.10.7', allow), undefined, 'a mapped address matches an IPv4 exception');
    assert.equal(addressRefusal('not-an-ip') !== undefined, true);
  });

  it('parses addresses and CIDRs', () => {
    assert.equal(parseAddress('[fe80::1%eth0]')?.family, 6);
    assert.equal(parseCidr('10.0.0.0/8')?.bits, 8);
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(parseCidr('fe80::/129'), undefined);
    assert.equal(parseCidr('nope/8'), undefined);
    assert.match(hostnameRefusal('Metadata.Google.Internal.') ?? '', /metadata service name/);
    assert.equal(hostnameRefusal('hooks.example.com'), undefined);
  });

  /** Resolves through a fixed table, as a DNS server under someone else's control would. */
  const fakeDns = (table: Record<string, string[]>) => (hostname: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void): void => {
    const addresses = table[hostname];
    if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  const lookupOnce = (lookup: ReturnType<typeof guardedLookup>, hostname: string, all: boolean): Promise<{ err: Error | null; result: unknown }> =>
    new Promise((resolve) => {
      lookup(hostname, { all }, (err: NodeJS.ErrnoException | null, address: unknown) => resolve({ err, result: address }));
    });

  it('checks what a name RESOLVES to: a public-looking name pointing at the metadata address is refused', async () => {
    const dns = fakeDns({ 'hooks.example.com': ['93.184.215.14'], 'rebind.example.com': ['93.184.215.14', '169.254.169.254'], 'v6.example.com': ['::ffff:169.254.169.254'], 'metadata.google.internal': ['169.254.169.254'] });
    const lookup = guardedLookup([], dns);
    assert.deepEqual(await lookupOnce(lookup, 'hooks.example.com', false), { err: null, result: '93.184.215.14' });
    assert.deepEqual((await lookupOnce(lookup, 'hooks.example.com', true)).result, [{ address: '93.184.215.14', family: 4 }]);
    for (const name of ['rebind.example.com', 'v6.example.com', 'metadata.google.internal']) {
      const { err } = await lookupOnce(lookup, name, false);
      assert.match(err?.message ?? '', /refused unless the receiver lists/, name);
    }
    const allowed = guardedLookup([parseCidr('169.254.169.254/32')].filter((cidr) => cidr !== undefined), dns);
    assert.equal((await lookupOnce(allowed, 'metadata.google.internal', false)).err, null, 'an explicit exception lets the name through');
  });
});

describe('back-off', () => {
  const policy = { baseMs: 1_000, capMs: 60_000 };

  it('doubles per attempt within [step/2, step], capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(policy, attempt, () => 1)), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.deepEqual([1, 2, 3].map((attempt) => backoffDelay(policy, attempt, () => 0)), [500, 1_000, 2_000]);
    assert.equal(backoffDelay(policy, 1_000, () => 1), 60_000, 'a huge attempt count stays at the cap');
  });

  it('honours Retry-After (seconds or a date), within the cap', () => {
    assert.equal(backoffDelay(policy, 1, () => 1, 7_000), 7_000);
    assert.equal(backoffDelay(policy, 1, () => 1, 600_000), 60_000);
    assert.equal(parseRetryAfter('7'), 7_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe('queue', () => {
  const delivery = (id: string): Delivery => ({ id, receiver: 'r', event: { type: 'scan.failed', subject: { apiVersion: 'v1', kind: 'X', name: id }, occurredAt: '', dedupeKey: id, data: {} }, createdAt: 0, attempts: 0 });

  it('holds exactly its limit; one past drops the oldest', () => {
    const queue = new DeliveryQueue(3);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(queue.add(delivery(id)), { added: true });
    assert.equal(queue.size, 3);
    const result = queue.add(delivery('d'));
    assert.equal(result.added, true);
    assert.equal(result.added && result.dropped?.id, 'a');
    assert.deepEqual([...queue.values()].map((entry) => entry.id), ['b', 'c', 'd']);
  });

  it('dedupes pending and delivered ids', () => {
    const queue = new DeliveryQueue(10, 2);
    queue.add(delivery('a'));
    assert.deepEqual(queue.add(delivery('a')), { added: false, reason: 'duplicate' });
    queue.remove('a', true);
    assert.deepEqual(queue.add(delivery('a')), { added: false, reason: 'delivered' });
    queue.add(delivery('b'));
    queue.remove('b', false);
    assert.deepEqual(queue.add(delivery('b')), { added: true }, 'a delivery given up may be published again');
    const recent = new RecentIds(2);
    for (const id of ['x', 'y', 'z']) recent.add(id);
    assert.deepEqual([recent.has('x'), recent.has('y'), recent.has('z'), recent.size], [false, true, true, 2]);
  });

  it('IdFifo keeps order across compaction', () => {
    const fifo = new IdFifo();
    for (let i = 0; i < 5_000; i++) fifo.push(String(i));
    for (let i = 0; i < 4_000; i++) assert.equal(fifo.shift(), String(i));
    fifo.push('last');
    assert.equal(fifo.length, 1_001);
    assert.equal(fifo.shift(), '4000');
  });
});

describe('ImageScan notifications', () => {
  const scan = (status?: ImageScan['status']): ImageScan => ({ apiVersion: 'securestack.io/v1alpha1', kind: 'ImageScan', metadata: { name: 's', namespace: 'n', uid: 'u1', generation: 1 }, spec: { image: 'reg/app:1' }, ...(status ? { status } : {}) });
  const summary = (critical: string[]): ScanSummary => ({
    summary: { critical: critical.length, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0 },
    topFindings: critical.map((id) => ({ id, package: 'p', severity: 'CRITICAL' as const })),
    scanner: { name: 'trivy' },
    componentCount: 1,
  }) as unknown as ScanSummary;

  it('completed always; finding.critical only for critical findings new since the previous status, with stable keys', () => {
    const first = completionEvents(scan(), 'sha256:1', summary(['CVE-1']), '2026-01-01T00:00:00Z', false);
    assert.deepEqual(first.map((event) => event.type), ['scan.completed', 'finding.critical']);
    assert.deepEqual(completionEvents(scan(), 'sha256:1', summary(['CVE-1']), '2026-01-01T00:00:00Z', false).map((event) => event.dedupeKey), first.map((event) => event.dedupeKey), 'the same transition gives the same keys');
    const previous = scan({ phase: 'Completed', summary: { critical: 1, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0 }, topFindings: [{ id: 'CVE-1', package: 'p', severity: 'CRITICAL' }] });
    assert.deepEqual(completionEvents(previous, 'sha256:1', summary(['CVE-1']), '2026-01-02T00:00:00Z', false).map((event) => event.type), ['scan.completed'], 'nothing new');
    const again = completionEvents(previous, 'sha256:1', summary(['CVE-1', 'CVE-2']), '2026-01-02T00:00:00Z', false);
    assert.equal(again[1]?.type, 'finding.critical');
    assert.deepEqual((again[1]?.data.newFindings as Array<{ id: string }>).map((finding) => finding.id), ['CVE-2']);
    assert.deepEqual(completionEvents(scan(), 'sha256:1', summary([]), '2026-01-01T00:00:00Z', false).map((event) => event.type), ['scan.completed']);
  });
});
