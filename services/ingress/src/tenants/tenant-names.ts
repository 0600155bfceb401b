// The tenant of a subscriber for the compliance records (main thread): the tenants the node runs now,
// by longest-prefix match of the subscriber prefix's top 64 bits, with each one's subscriber length.
// Replaced as a whole on a live change (SIGHUP), so a record names the tenant the node served the
// subscriber under when the outbox derived the lease (services/state compliance/records.ts).

import type { TenantOf } from '../../../state/src/index.js';
import { type TenantConfig, tenantPrefixTable } from './tenant-config.js';
import { NO_TENANT, type TenantPrefixTable } from './tenant-lpm.js';

export class TenantNames {
  private tenants: readonly TenantConfig[] = [];
  private table: TenantPrefixTable | null = null;

  constructor(tenants: readonly TenantConfig[] | undefined) {
    this.set(tenants);
  }

  /** The running tenants from now on (undefined: none, records name no tenant). */
  set(tenants: readonly TenantConfig[] | undefined): void {
    this.tenants = tenants ?? [];
    this.table = tenants === undefined ? null : tenantPrefixTable(tenants);
  }

  /** The tenant holding a subscriber prefix (four words), or null. */
  readonly tenantOf: TenantOf = (subscriber) => {
    if (this.table === null) return null;
    const index = this.table.lookupWords(subscriber[0] | 0, subscriber[1] | 0);
    return index === NO_TENANT ? null : this.tenants[index];
  };
}
