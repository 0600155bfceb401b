// Tenants' shares of the node's IPv4 pool, as the engine's shared allocator takes them (PoolShares,
// services/nat-engine): a subscriber's tenant by longest-prefix match of its masked prefix, the tenant's
// addresses (its own pool4 or the undedicated rest), its blocksMax quota and per-subscriber bound, and
// the node-wide count of blocks each tenant holds (one Int32 per tenant in a SharedArrayBuffer).

import type { NatEngineConfig, PoolShares } from '../../../nat-engine/src/index.js';
import { type TenantConfig, tenantPoolAddresses } from './tenant-config.js';
import type { TenantPrefixTable } from './tenant-lpm.js';

/** The shared words counting each tenant's leased blocks, made once per node and mapped by every worker. */
export function createTenantBlockCounts(tenantCount: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, tenantCount) * Int32Array.BYTES_PER_ELEMENT);
}

export function tenantPoolShares(
  tenants: readonly TenantConfig[],
  engine: NatEngineConfig,
  table: TenantPrefixTable,
  leased: SharedArrayBuffer,
): PoolShares {
  return {
    shareOf: (w0, w1) => table.lookupWords(w0, w1),
    addresses: tenantPoolAddresses(tenants, engine),
    blocksMax: Int32Array.from(tenants.map((t) => t.blocksMax)),
    subscriberBlocksMax: Int32Array.from(tenants.map((t) => t.subscriberBlocksMax)),
    leased: new Int32Array(leased),
  };
}
