/**
 * The pending deliveries of one process: a bounded map in arrival order (a Map keeps insertion
 * order, and removing its first entry is O(1)), so adding is O(1), a full queue drops its oldest
 * entry, and a delivery id is never queued twice. Plus a bounded memory of recently delivered
 * ids, so a publisher that re-announces an event already delivered (a re-reconcile) does not
 * send it again.
 */
import type { NotificationEvent } from './events';

export interface Delivery {
  id: string;
  receiver: string;
  event: NotificationEvent;
  /** Wall-clock ms the event was first queued (anywhere): the latency metric starts here. */
  createdAt: number;
  /** Failed attempts so far. */
  attempts: number;
}

export type AddResult = { added: true; dropped?: Delivery } | { added: false; reason: 'duplicate' | 'delivered' };

export class DeliveryQueue {
  private readonly pending = new Map<string, Delivery>();
  private readonly delivered: RecentIds;

  constructor(readonly limit: number, rememberDelivered = limit) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('queue limit must be a positive integer');
    this.delivered = new RecentIds(Math.max(1, rememberDelivered));
  }

  get size(): number {
    return this.pending.size;
  }

  /** Queues a delivery unless its id is pending or was delivered; over the limit the oldest goes. */
  add(delivery: Delivery): AddResult {
    if (this.pending.has(delivery.id)) return { added: false, reason: 'duplicate' };
    if (this.delivered.has(delivery.id)) return { added: false, reason: 'delivered' };
    this.pending.set(delivery.id, delivery);
    if (this.pending.size <= this.limit) return { added: true };
    const oldest = this.pending.keys().next().value as string;
    const dropped = this.pending.get(oldest) as Delivery;
    this.pending.delete(oldest);
    return { added: true, dropped };
  }

  get(id: string): Delivery | undefined {
    return this.pending.get(id);
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Done with it: delivered (remembered, so it is not queued again) or given up. */
  remove(id: string, delivered: boolean): void {
    this.pending.delete(id);
    if (delivered) this.delivered.add(id);
  }

  wasDelivered(id: string): boolean {
    return this.delivered.has(id);
  }

  /** Oldest first. */
  values(): IterableIterator<Delivery> {
    return this.pending.values();
  }
}

/** A bounded set that forgets the oldest id first. */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly limit: number) {}

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }
}

/** A FIFO of ids with O(1) push and shift (an array's shift is O(n)). */
export class IdFifo {
  private items: string[] = [];
  private head = 0;

  push(id: string): void {
    this.items.push(id);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const id = this.items[this.head++];
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return id;
  }

  get length(): number {
    return this.items.length - this.head;
  }
}
