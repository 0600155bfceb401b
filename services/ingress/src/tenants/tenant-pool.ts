// Tenants' shares of the node's IPv4 pool, as the engine's shared allocator takes them (PoolShares,
// services/nat-engine): a subscriber's tenant by longest-prefix match of its masked prefix, the tenant's
// addresses (its own pool4 or the undedicated rest), its blocksMax quota and per-subscriber bound, and
// the node-wide count of blocks each tenant holds (one Int32 per tenant in a SharedArrayBuffer).

import type { NatEngineConfig, PoolShares } from '../../../nat-engine/src/index.js';
import { TENANTS_MAX, type TenantConfig, tenantPoolAddresses } from './tenant-config.js';
import type { TenantPrefixTable } from './tenant-lpm.js';

/** The shared words counting each tenant slot's leased blocks, made once per node and mapped by every worker. */
export function createTenantBlockCounts(): SharedArrayBuffer {
  return new SharedArrayBuffer(TENANTS_MAX * Int32Array.BYTES_PER_ELEMENT);
}

/** The shares of `tenants`, indexed by slot (`slots[i]` of tenant i, default i) as `table` classifies. */
export function tenantPoolShares(
  tenants: readonly TenantConfig[],
  engine: NatEngineConfig,
  table: TenantPrefixTable,
  leased: SharedArrayBuffer,
  slots: readonly number[] = tenants.map((_, i) => i),
): PoolShares {
  const size = Math.max(0, ...slots) + 1;
  const addresses: Int32Array[] = Array.from({ length: size }, () => new Int32Array(0));
  const blocksMax = new Int32Array(size);
  const subscriberBlocksMax = new Int32Array(size);
  const own = tenantPoolAddresses(tenants, engine);
  for (const [i, tenant] of tenants.entries()) {
    addresses[slots[i]] = own[i];
    blocksMax[slots[i]] = tenant.blocksMax;
    subscriberBlocksMax[slots[i]] = tenant.subscriberBlocksMax;
  }
  return {
    shareOf: (w0, w1) => table.lookupWords(w0, w1),
    addresses,
    blocksMax,
    subscriberBlocksMax,
    leased: new Int32Array(leased),
  };
}
