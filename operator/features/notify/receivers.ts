/**
 * The receivers list (SECURESTACK_NOTIFY_RECEIVERS as JSON, or SECURESTACK_NOTIFY_RECEIVERS_FILE
 * naming a file that holds it). Everything that can be checked without the network is checked at
 * start, and a mistake stops the process with one line naming the setting and the receiver, as
 * operator/platform/config.ts does for every setting: a typo in an event name would otherwise
 * mean notifications that silently never come.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../../platform/config';
import { notificationEventTypes, type NotificationEventType } from './events';
import { parseCidr, type Cidr } from './address-guard';

export interface ReceiverConfig {
  /** DNS-1123 label; the metric label and part of every delivery id. */
  name: string;
  url: URL;
  /** The event types this receiver wants. */
  events: ReadonlySet<NotificationEventType>;
  /** Secret in the operator's namespace holding the signing key, and the key in it. */
  secret: { name: string; key: string };
  /** PEM certificates trusted besides Node's default CAs. */
  caBundle?: string;
  /** Plain http:// (no TLS) is refused unless this is set. */
  allowInsecureHttp: boolean;
  /** Addresses in refused ranges (link-local, cloud metadata) this receiver may still connect to. */
  allowAddresses: readonly Cidr[];
}

export const maxReceivers = 32;
export const maxUrlLength = 2048;
export const defaultSecretKey = 'signingKey';
const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const secretKeyPattern = /^[-._a-zA-Z0-9]{1,253}$/;
const knownFields = new Set(['name', 'url', 'events', 'secret', 'caBundle', 'allowInsecureHttp', 'allowAddresses']);
const knownSecretFields = new Set(['name', 'key']);

export const receiversSetting = 'SECURESTACK_NOTIFY_RECEIVERS';
export const receiversFileSetting = 'SECURESTACK_NOTIFY_RECEIVERS_FILE';

/**
 * The receivers from the two settings (at most one may be set). Throws ConfigError with one line
 * naming the setting.
 */
export function loadReceivers(json: string, file: string): ReceiverConfig[] {
  if (json && file) throw new ConfigError(`invalid setting ${receiversSetting}: set either it or ${receiversFileSetting}, not both`);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`invalid setting ${receiversFileSetting}: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return parseReceivers(text, receiversFileSetting);
  }
  return json ? parseReceivers(json, receiversSetting) : [];
}

/** Parses and checks a receivers list; `setting` names where it came from in the error line. */
export function parseReceivers(text: string, setting: string = receiversSetting): ReceiverConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`invalid setting ${setting}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(raw)) throw new ConfigError(`invalid setting ${setting}: expected a JSON array of receivers`);
  if (raw.length > maxReceivers) throw new ConfigError(`invalid setting ${setting}: ${raw.length} receivers, at most ${maxReceivers}`);
  const receivers = raw.map((entry: unknown, index) => {
    try {
      return parseReceiver(entry);
    } catch (err) {
      const name = isRecord(entry) && typeof entry.name === 'string' ? `'${entry.name}'` : `#${index}`;
      throw new ConfigError(`invalid setting ${setting}: receiver ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  const seen = new Set<string>();
  for (const receiver of receivers) {
    if (seen.has(receiver.name)) throw new ConfigError(`invalid setting ${setting}: duplicate receiver name '${receiver.name}'`);
    seen.add(receiver.name);
  }
  return receivers;
}

function parseReceiver(entry: unknown): ReceiverConfig {
  if (!isRecord(entry)) throw new Error('expected an object');
  const unknown = Object.keys(entry).filter((field) => !knownFields.has(field));
  if (unknown.length > 0) throw new Error(`unknown field(s) ${unknown.join(', ')} (known: ${[...knownFields].join(', ')})`);
  const name = entry.name;
  if (typeof name !== 'string' || !dns1123Label.test(name)) throw new Error('name must be a DNS-1123 label (lower-case letters, digits and dashes, at most 63)');
  const allowInsecureHttp = optionalBoolean(entry.allowInsecureHttp, 'allowInsecureHttp');
  return {
    name,
    url: parseUrl(entry.url, allowInsecureHttp),
    events: parseEvents(entry.events),
    secret: parseSecret(entry.secret),
    ...(entry.caBundle !== undefined ? { caBundle: parseCaBundle(entry.caBundle) } : {}),
    allowInsecureHttp,
    allowAddresses: parseAllowAddresses(entry.allowAddresses),
  };
}

function parseUrl(value: unknown, allowInsecureHttp: boolean): URL {
  if (typeof value !== 'string' || value === '') throw new Error('url is required');
  if (value.length > maxUrlLength) throw new Error(`url is longer than ${maxUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`url '${value}' is not a URL`);
  }
  if (url.protocol === 'http:' && !allowInsecureHttp) throw new Error(`url '${value}' is plain http: use https, or set allowInsecureHttp: true for this receiver`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`url '${value}' must be https`);
  // Credentials in the URL would end up in logs and Events; the signature authenticates us.
  if (url.username || url.password) throw new Error('url must not carry a user name or password');
  if (url.hash) throw new Error('url must not have a #fragment');
  if (!url.hostname) throw new Error(`url '${value}' has no host`);
  return url;
}

function parseEvents(value: unknown): ReadonlySet<NotificationEventType> {
  if (!Array.isArray(value) || value.length === 0) throw new Error(`events must be a non-empty list of ${notificationEventTypes.join(', ')} or "*"`);
  const events = new Set<NotificationEventType>();
  for (const item of value) {
    if (item === '*') {
      for (const type of notificationEventTypes) events.add(type);
      continue;
    }
    const type = notificationEventTypes.find((known) => known === item);
    if (!type) throw new Error(`unknown event '${String(item)}' (known: ${notificationEventTypes.join(', ')}, or "*")`);
    events.add(type);
  }
  return events;
}

function parseSecret(value: unknown): { name: string; key: string } {
  if (!isRecord(value)) throw new Error('secret must be an object { name, key } naming a Secret in the operator namespace');
  const unknown = Object.keys(value).filter((field) => !knownSecretFields.has(field));
  if (unknown.length > 0) throw new Error(`unknown field(s) in secret: ${unknown.join(', ')}`);
  if (typeof value.name !== 'string' || !dns1123Subdomain.test(value.name)) throw new Error('secret.name must be a Secret name (DNS-1123 subdomain)');
  const key = value.key ?? defaultSecretKey;
  if (typeof key !== 'string' || !secretKeyPattern.test(key)) throw new Error('secret.key must be a Secret data key (letters, digits, -, _ and .)');
  return { name: value.name, key };
}

function parseCaBundle(value: unknown): string {
  if (typeof value !== 'string' || !value.includes('-----BEGIN CERTIFICATE-----')) throw new Error('caBundle must be PEM text with at least one certificate');
  for (const block of value.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) {
    try {
      new X509Certificate(block);
    } catch {
      throw new Error('caBundle holds a certificate that does not parse');
    }
  }
  return value;
}

function parseAllowAddresses(value: unknown): Cidr[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error('allowAddresses must be a list of CIDRs such as 169.254.10.0/24');
  return value.map((item) => {
    const cidr = typeof item === 'string' ? parseCidr(item) : undefined;
    if (!cidr) throw new Error(`allowAddresses: '${String(item)}' is not a CIDR such as 169.254.10.0/24 or fd00:ec2::254/128`);
    return cidr;
  });
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new Error(`${field} must be true or false`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
