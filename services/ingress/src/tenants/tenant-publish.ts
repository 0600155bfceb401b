// Live tenant changes (SIGHUP) between the main thread and the workers: the main thread writes the
// tenant list, each tenant with its slot, as shared JSON (../shared-json.ts); each worker polls it in its
// maintenance tick (every 100 ms) and rebuilds its classification and pool shares when it moved. A
// name keeps its slot (counter and quota position) while the node runs.

import { configError } from '../../../../libs/dataplane/src/index.js';
import { createSharedJsonMemory, publishSharedJson, SharedJsonReader } from '../shared-json.js';
import { TENANTS_MAX, type TenantConfig } from './tenant-config.js';

/** Room for the JSON of the tenant list (about 60,000 prefixes). */
export const TENANT_CONFIG_BYTES = 4 << 20;

/** What the workers apply: the tenants (null: none, any source is translated) and each one's slot. */
export interface PublishedTenants {
  tenants: TenantConfig[] | null;
  slots: number[];
}

export function createTenantConfigMemory(): SharedArrayBuffer {
  return createSharedJsonMemory(TENANT_CONFIG_BYTES);
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
  if (!publishSharedJson(memory, published))
    throw configError(
      'tenants',
      `the tenant list takes more than ${TENANT_CONFIG_BYTES} bytes; split the node`,
    );
}

/** A worker's view of the published tenants. */
export class TenantConfigReader extends SharedJsonReader<PublishedTenants> {}
