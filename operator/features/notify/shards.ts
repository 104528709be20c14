/**
 * Pending deliveries that outlive the process (ADR 0021). Every replica publishes (the webhook
 * denies on standbys too), so each keeps its own shard: one ConfigMap in the operator namespace,
 * named from its identity, holding its pending deliveries gzipped, rewritten in batches by the
 * notifier (never on the publish path) and heart-beating through its resourceVersion. The leader
 * adopts the shards of replicas that stopped: state `stopped` (a clean shutdown) at once, or a
 * resourceVersion that did not move for `adoptAfterMs` on the leader's own clock (as the Lease
 * is judged: no trust in other nodes' clocks).
 *
 * Adoption claims the shard with a write conditional on the resourceVersion read, so two
 * leaders in a row (or an owner that comes back) cannot both take it silently; the adopter
 * saves the deliveries into its own shard before deleting the adopted one, so a crash in
 * between duplicates (allowed: at least once) but never loses.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib';
import { isConflict, isNotFound, type ConfigMap, type KubeClient } from '../../platform/kube/client';
import { withOwner, type OwnerLookup } from '../../platform/kube/owner';
import type { Delivery } from './queue';

const gzip = promisify(gzipCallback);
const gunzip = promisify(gunzipCallback);

export const shardLabel = 'securestack.io/notify-shard';
export const ownerAnnotation = 'securestack.io/notify-owner';
export const stateAnnotation = 'securestack.io/notify-state';
export const heartbeatAnnotation = 'securestack.io/notify-heartbeat';
export const adoptedByAnnotation = 'securestack.io/notify-adopted-by';
const dataKey = 'deliveries.json.gz';
/** Compressed bytes per shard: under the 1 MiB object limit with room for metadata. */
export const maxShardBytes = 900 * 1024;

export type ShardState = 'running' | 'stopped';

export interface AdoptedShard {
  name: string;
  owner: string;
  deliveries: Delivery[];
}

export interface DeliveryStore {
  /** Deliveries this identity left in its shard in a previous life (a restart with the same name). */
  loadOwn(): Promise<Delivery[]>;
  /** Rewrites this process's shard (oldest first); returns how many fitted. */
  save(deliveries: readonly Delivery[], state: ShardState): Promise<number>;
  /** Claims the shards of replicas that stopped and returns their deliveries. */
  adoptStale(): Promise<AdoptedShard[]>;
  /** Deletes an adopted shard, once its deliveries are saved in this process's own. */
  release(name: string): Promise<void>;
}

type ShardClient = Pick<KubeClient, 'getConfigMap' | 'listConfigMapMetadata' | 'createConfigMap' | 'replaceConfigMap' | 'deleteConfigMap'>;

export interface ConfigMapStoreOptions {
  client: ShardClient;
  namespace: string;
  identity: string;
  adoptAfterMs: number;
  /** The installation's owner, named by each shard so uninstalling removes it (platform/kube/owner.ts). */
  owner?: OwnerLookup;
  now?: () => number;
}

/** A DNS-1123 name from any identity: readable part plus a hash, so two identities never collide. */
export function shardName(identity: string): string {
  const slug = identity.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `securestack-notify-${slug ? `${slug}-` : ''}${hash}`;
}

export class ConfigMapDeliveryStore implements DeliveryStore {
  readonly name: string;
  /** resourceVersion of each other shard and when this process first saw it. */
  private readonly observed = new Map<string, { resourceVersion: string; since: number }>();
  private readonly now: () => number;

  constructor(private readonly options: ConfigMapStoreOptions) {
    this.name = shardName(options.identity);
    this.now = options.now ?? Date.now;
  }

  async loadOwn(): Promise<Delivery[]> {
    const own = await this.options.client.getConfigMap(this.options.namespace, this.name);
    return own ? decode(own) : [];
  }

  async save(deliveries: readonly Delivery[], state: ShardState): Promise<number> {
    const { bytes, count } = await fitted(deliveries);
    const configMap: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace: this.options.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'securestack', [shardLabel]: 'true' },
        annotations: { [ownerAnnotation]: this.options.identity, [stateAnnotation]: state, [heartbeatAnnotation]: new Date(this.now()).toISOString() },
        ownerReferences: withOwner(undefined, await this.options.owner?.().catch(() => undefined)),
      },
      binaryData: { [dataKey]: bytes.toString('base64') },
    };
    try {
      await this.options.client.replaceConfigMap(this.options.namespace, configMap);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.options.client.createConfigMap(this.options.namespace, configMap);
    }
    return count;
  }

  async adoptStale(): Promise<AdoptedShard[]> {
    const { client, namespace } = this.options;
    const shards = await client.listConfigMapMetadata(namespace, `${shardLabel}=true`);
    const now = this.now();
    const seen = new Set<string>();
    const adopted: AdoptedShard[] = [];
    for (const shard of shards) {
      const name = shard.metadata?.name ?? '';
      const resourceVersion = shard.metadata?.resourceVersion ?? '';
      if (!name || name === this.name) continue;
      seen.add(name);
      const known = this.observed.get(name);
      if (known?.resourceVersion !== resourceVersion) this.observed.set(name, { resourceVersion, since: now });
      const stopped = shard.metadata?.annotations?.[stateAnnotation] === 'stopped';
      const silentFor = now - (this.observed.get(name)?.since ?? now);
      if (!stopped && silentFor < this.options.adoptAfterMs) continue;
      const claimed = await this.claim(name);
      if (claimed) adopted.push(claimed);
    }
    for (const name of this.observed.keys()) if (!seen.has(name)) this.observed.delete(name);
    return adopted;
  }

  async release(name: string): Promise<void> {
    await this.options.client.deleteConfigMap(this.options.namespace, name);
    this.observed.delete(name);
  }

  /** Marks the shard as ours with a write that fails if its owner wrote meanwhile. */
  private async claim(name: string): Promise<AdoptedShard | undefined> {
    const { client, namespace, identity } = this.options;
    const shard = await client.getConfigMap(namespace, name);
    if (!shard?.metadata) return undefined;
    const annotations = shard.metadata.annotations ?? {};
    const claimedBy = annotations[adoptedByAnnotation];
    if (claimedBy === undefined || claimedBy !== identity) {
      try {
        // The resourceVersion read travels with the write: 409 if the owner heart-beat since.
        await client.replaceConfigMap(namespace, { ...shard, metadata: { ...shard.metadata, annotations: { ...annotations, [adoptedByAnnotation]: identity } } });
      } catch (err) {
        if (isConflict(err) || isNotFound(err)) return undefined;
        throw err;
      }
    }
    return { name, owner: annotations[ownerAnnotation] ?? name, deliveries: await decode(shard) };
  }
}

/** The newest deliveries that fit in one shard, compressed (oldest dropped first, as the queue does). */
async function fitted(deliveries: readonly Delivery[]): Promise<{ bytes: Buffer; count: number }> {
  let start = 0;
  for (;;) {
    const kept = deliveries.slice(start);
    const bytes = await gzip(JSON.stringify(kept.map(persisted)));
    if (bytes.length <= maxShardBytes || kept.length === 0) return { bytes, count: kept.length };
    // Cut in proportion to the overshoot, at least one, so a few passes suffice.
    start += Math.max(1, Math.ceil(kept.length * (1 - maxShardBytes / bytes.length)) + 1);
  }
}

function persisted(delivery: Delivery): Delivery {
  return { id: delivery.id, receiver: delivery.receiver, event: delivery.event, createdAt: delivery.createdAt, attempts: delivery.attempts };
}

async function decode(shard: ConfigMap): Promise<Delivery[]> {
  const encoded = shard.binaryData?.[dataKey];
  if (!encoded) return [];
  const parsed: unknown = JSON.parse((await gunzip(Buffer.from(encoded, 'base64'))).toString('utf8'));
  return Array.isArray(parsed) ? parsed.filter(isDelivery) : [];
}

function isDelivery(value: unknown): value is Delivery {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<Delivery>;
  return typeof entry.id === 'string' && typeof entry.receiver === 'string' && typeof entry.createdAt === 'number' && typeof entry.attempts === 'number' && typeof entry.event === 'object' && entry.event !== null && typeof entry.event.type === 'string';
}
