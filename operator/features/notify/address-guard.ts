/**
 * Where a webhook may not go. A receiver URL is user-supplied and the operator runs with a
 * ServiceAccount inside the cluster, so a URL pointing at the node's cloud metadata service would
 * turn notifications into a way to read instance credentials (SSRF). Link-local and known cloud
 * metadata addresses are refused unless the receiver explicitly allows them.
 *
 * The check runs on the addresses the name RESOLVES to, at connect time (a DNS lookup function
 * given to the socket), not on the URL text: a name that resolves to a public address when the
 * receiver is configured and to 169.254.169.254 later (DNS rebinding) is still refused.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
  text: string;
}

// Before the ranges below, which are parsed when the module loads.
const low32 = 0xffffffffn;
const nat64Prefix = 0x0064ff9bn << 96n;

interface RefusedRange {
  cidr: Cidr;
  what: string;
}

const range = (text: string, what: string): RefusedRange => {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`bad built-in range ${text}`);
  return { cidr, what };
};

/** Most specific first, so the reason names the metadata service rather than "link-local". */
export const refusedRanges: readonly RefusedRange[] = [
  range('169.254.169.254/32', 'the cloud metadata service (AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean)'),
  range('169.254.170.2/32', 'the AWS ECS task metadata service'),
  range('fd00:ec2::254/128', 'the AWS IPv6 metadata service'),
  range('100.100.100.200/32', 'the Alibaba Cloud metadata service'),
  range('168.63.129.16/32', 'the Azure host (WireServer)'),
  range('192.0.0.192/32', 'the Oracle Cloud metadata service'),
  range('169.254.0.0/16', 'the IPv4 link-local range 169.254.0.0/16'),
  range('fe80::/10', 'the IPv6 link-local range fe80::/10'),
];

/** Names of metadata services, refused even before resolving (a resolver could answer anything). */
export const metadataHostnames: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

export class AddressRefusedError extends Error {
  readonly code = 'ESECURESTACK_ADDRESS_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'AddressRefusedError';
  }
}

export function parseCidr(text: string): Cidr | undefined {
  const [address = '', prefix, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  const width = parsed.family === 4 ? 32 : 128;
  const bits = prefix === undefined ? width : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return undefined;
  return { family: parsed.family, base: maskTo(parsed.value, width, bits), bits, text };
}

/** An IP address as a number; IPv4-mapped, IPv4-compatible and NAT64 IPv6 addresses as the IPv4 inside. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const address = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return { family: 4, value: ipv4Value(address) };
  if (family !== 6) return undefined;
  const value = ipv6Value(address);
  const embedded = embeddedIpv4(value);
  return embedded === undefined ? { family: 6, value } : { family: 4, value: embedded };
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((sum, octet) => (sum << 8n) + BigInt(Number(octet)), 0n);
}

function ipv6Value(address: string): bigint {
  let text = address.toLowerCase();
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const v4 = ipv4Value(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const missing = rest === undefined ? 0 : 8 - left.length - right.length;
  const hextets = [...left, ...Array<string>(missing).fill('0'), ...right];
  return hextets.reduce((sum, hextet) => (sum << 16n) + BigInt(parseInt(hextet || '0', 16)), 0n);
}

/** The IPv4 address an IPv6 address carries, for the forms that reach an IPv4 host. */
function embeddedIpv4(value: bigint): bigint | undefined {
  const high = value >> 32n;
  if (high === 0xffffn) return value & low32; // ::ffff:a.b.c.d (IPv4-mapped)
  if (high === 0n && value > 1n) return value & low32; // ::a.b.c.d (IPv4-compatible, deprecated); not :: or ::1
  if (value >> 32n === nat64Prefix >> 32n) return value & low32; // 64:ff9b::a.b.c.d (NAT64)
  return undefined;
}

function maskTo(value: bigint, width: number, bits: number): bigint {
  const hostBits = BigInt(width - bits);
  return (value >> hostBits) << hostBits;
}

export function inCidr(address: { family: 4 | 6; value: bigint }, cidr: Cidr): boolean {
  const width = cidr.family === 4 ? 32 : 128;
  return address.family === cidr.family && maskTo(address.value, width, cidr.bits) === cidr.base;
}

/**
 * Why a connection to this address is refused, or undefined when it is allowed. `allow` lists
 * the receiver's explicit exceptions. Anything that is not an IP address is refused.
 */
export function addressRefusal(address: string, allow: readonly Cidr[] = []): string | undefined {
  const parsed = parseAddress(address);
  if (!parsed) return `'${address}' is not an IP address`;
  const hit = refusedRanges.find((entry) => inCidr(parsed, entry.cidr));
  if (!hit) return undefined;
  if (allow.some((cidr) => inCidr(parsed, cidr))) return undefined;
  return `address ${address} is in ${hit.what}; refused unless the receiver lists it in allowAddresses`;
}

/** Why a host name is refused before resolving (a metadata service name), or undefined. */
export function hostnameRefusal(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return metadataHostnames.has(name) ? `host ${hostname} is a cloud metadata service name; refused unless the receiver lists its address in allowAddresses` : undefined;
}

type Resolver = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/**
 * A `lookup` for net/tls sockets that resolves like the system does, then refuses the connection
 * when ANY resolved address is refused (an attacker controlling DNS picks which one is used).
 * Answers in the shape the caller asked for (`all` or one address).
 */
export function guardedLookup(allow: readonly Cidr[] = [], resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const byName = hostnameRefusal(hostname);
    resolve(hostname, { family: options.family ?? 0, hints: options.hints ?? 0, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const reasons = addresses.map((entry) => addressRefusal(entry.address, allow)).filter((reason): reason is string => reason !== undefined);
      const nameStillRefused = byName !== undefined && !addresses.every((entry) => allow.some((cidr) => {
        const parsed = parseAddress(entry.address);
        return parsed !== undefined && inCidr(parsed, cidr);
      }));
      const reason = reasons[0] ?? (nameStillRefused ? byName : undefined);
      if (reason !== undefined) return callback(new AddressRefusedError(`${hostname}: ${reason}`), '', 4);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname}: no addresses`), { code: 'ENOTFOUND' }), '', 4);
      // The `all` form (Node's happy-eyeballs connect asks for it) takes the array; the
      // classic form one address. The LookupFunction type only declares the classic form.
      if (options.all) return (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses as [LookupAddress, ...LookupAddress[]];
      return callback(null, first.address, first.family);
    });
  };
}
