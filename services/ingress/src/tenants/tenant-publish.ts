// Live tenant changes (SIGHUP) between the main thread and the workers: the main thread writes the
// tenant list, each tenant with its slot, as JSON into a SharedArrayBuffer under a sequence lock; each
// worker looks at the sequence in its maintenance tick (every 100 ms) and rebuilds its classification
// and pool shares when it moved. A name keeps its slot (counter and quota position) while the node runs.

import { configError } from '../../../../libs/dataplane/src/index.js';
import { TENANTS_MAX, type TenantConfig } from './tenant-config.js';

/** Header words: the sequence (odd while a write is under way) and the JSON's byte length. */
const HEADER_WORDS = 2;
/** Room for the JSON of the tenant list (about 60,000 prefixes). */
export const TENANT_CONFIG_BYTES = 4 << 20;

/** What the workers apply: the tenants (null: none, any source is translated) and each one's slot. */
export interface PublishedTenants {
  tenants: TenantConfig[] | null;
  slots: number[];
}

export function createTenantConfigMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_WORDS * 4 + TENANT_CONFIG_BYTES);
}

/** The main thread's slot per tenant name: the started tenants hold 0..n-1, a new name the next free one. */
export class TenantSlots {
  private readonly slotByName = new Map<string, number>();

  constructor(started: readonly TenantConfig[] | undefined) {
    for (const [i, tenant] of (started ?? []).entries()) this.slotByName.set(tenant.name, i);
  }

  /** Every name that ever had a slot, in slot order. */
  names(): string[] {
    return [...this.slotByName.keys()];
  }

  slotOf(name: string): number | undefined {
    return this.slotByName.get(name);
  }

  /** Slots of `tenants` in order; refuses (naming the field) once TENANTS_MAX names were ever used. */
  slotsOf(tenants: readonly TenantConfig[]): number[] {
    const fresh = tenants.filter((t) => !this.slotByName.has(t.name)).length;
    if (this.slotByName.size + fresh > TENANTS_MAX)
      throw configError(
        'tenants',
        `${TENANTS_MAX} tenant names were used since the node started; restart it to add more`,
      );
    return tenants.map((tenant) => {
      let slot = this.slotByName.get(tenant.name);
      if (slot === undefined) {
        slot = this.slotByName.size;
        this.slotByName.set(tenant.name, slot);
      }
      return slot;
    });
  }
}

/** Writes `published` for the workers (main thread; one writer). */
export function publishTenants(memory: SharedArrayBuffer, published: PublishedTenants): void {
  const bytes = new TextEncoder().encode(JSON.stringify(published));
  if (bytes.length > TENANT_CONFIG_BYTES)
    throw configError(
      'tenants',
      `the tenant list takes more than ${TENANT_CONFIG_BYTES} bytes; split the node`,
    );
  const header = new Int32Array(memory, 0, HEADER_WORDS);
  Atomics.add(header, 0, 1); // odd: a write is under way
  new Uint8Array(memory, HEADER_WORDS * 4, bytes.length).set(bytes);
  Atomics.store(header, 1, bytes.length);
  Atomics.add(header, 0, 1); // even: complete
}

/** A worker's view of the published tenants. */
export class TenantConfigReader {
  private seen: number;
  private readonly header: Int32Array;

  constructor(private readonly memory: SharedArrayBuffer) {
    this.header = new Int32Array(memory, 0, HEADER_WORDS);
    this.seen = 0; // anything published before this worker started is applied at its first tick
  }

  /** What was published since the last call; undefined when nothing was (or a write is under way). */
  poll(): PublishedTenants | undefined {
    const before = Atomics.load(this.header, 0);
    if (before === this.seen || (before & 1) === 1) return undefined;
    const length = Atomics.load(this.header, 1);
    const copy = new Uint8Array(length);
    copy.set(new Uint8Array(this.memory, HEADER_WORDS * 4, length));
    if (Atomics.load(this.header, 0) !== before) return undefined; // rewritten meanwhile: next tick
    this.seen = before;
    return JSON.parse(new TextDecoder().decode(copy)) as PublishedTenants;
  }
}
