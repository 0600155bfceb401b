// Per-tenant accounting of a running PLAT: each worker writes its own row of figures per tenant slot
// (packets and bytes both ways, refusals, sessions, subscribers) into a SharedArrayBuffer sized for
// TENANTS_MAX slots, so a tenant added while running (SIGHUP) is counted at once; the main thread sums the
// workers by slot and names the slots (status `tenants`, `tenant.<name>.*` counters, metrics, usage records).

import assert from 'node:assert/strict';
import type { ObservedMetric } from '../../../../libs/telemetry/src/index.js';
import type { NatEngineConfig, SessionShares } from '../../../nat-engine/src/index.js';
import { TENANTS_MAX, type TenantConfig, tenantPoolAddresses } from './tenant-config.js';
import type { TenantPrefixTable } from './tenant-lpm.js';

/** Counters per tenant slot, written by the worker's ingress step. */
export const tenantCounterNames = [
  'packets64', // IPv6 packets from the tenant's subscribers (classified to it)
  'translated64', // of those, translated to IPv4
  'translated46', // IPv4 packets translated to the tenant's subscribers (return traffic)
  'bytes64', // bytes of the IPv6 packets translated (as received)
  'bytes46', // bytes of the IPv4 packets translated (as received)
  'refused64', // packets of the tenant's subscribers not translated (limits, quotas, malformed, ...)
] as const;
/** Gauges per tenant slot: the worker's sessions (followed exactly) and subscribers (recounted every second). */
export const tenantWorkerGaugeNames = ['sessions', 'subscribers'] as const;
/** Float64 entries per slot in a worker's row. */
export const TENANT_STAT_ENTRIES = tenantCounterNames.length + tenantWorkerGaugeNames.length;
export const TenantStat = Object.freeze(
  Object.fromEntries(
    [...tenantCounterNames, ...tenantWorkerGaugeNames].map((name, index) => [name, index]),
  ) as Record<(typeof tenantCounterNames)[number] | (typeof tenantWorkerGaugeNames)[number], number>,
);

/** One worker's figures for every tenant slot. */
export function createTenantStatsMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(TENANTS_MAX * TENANT_STAT_ENTRIES * Float64Array.BYTES_PER_ELEMENT);
}

/**
 * The engine's per-tenant session limits over the node's rows (tenant i at `slots[i]`): this worker's
 * row takes its sessions, the quota reads the sum of every worker's row.
 */
export function tenantSessionShares(
  tenants: readonly TenantConfig[],
  table: TenantPrefixTable,
  stats: readonly SharedArrayBuffer[],
  worker: number,
  slots: readonly number[] = tenants.map((_, i) => i),
): SessionShares {
  assert.ok(worker >= 0 && worker < stats.length, 'the worker has a row');
  const rows = stats.map((s) => new Float64Array(s));
  const own = rows[worker];
  const subscriberSessionsMax = new Int32Array(TENANTS_MAX);
  const sessionsMax = new Int32Array(TENANTS_MAX);
  for (const [i, tenant] of tenants.entries()) {
    subscriberSessionsMax[slots[i]] = tenant.subscriberSessionsMax;
    sessionsMax[slots[i]] = tenant.sessionsMax;
  }
  const at = TenantStat.sessions;
  return {
    shareOf: (w0, w1) => table.lookupWords(w0, w1),
    subscriberSessionsMax,
    sessionsMax,
    sessionsOf(share) {
      let sum = 0;
      for (let w = 0; w < rows.length; w++) sum += rows[w][share * TENANT_STAT_ENTRIES + at];
      return sum;
    },
    onSessions(share, delta) {
      own[share * TENANT_STAT_ENTRIES + at] += delta;
    },
    resetSessions() {
      for (let slot = 0; slot < TENANTS_MAX; slot++) own[slot * TENANT_STAT_ENTRIES + at] = 0;
    },
  };
}

/** What `xlat64 tenant list` and the usage records show of one tenant. */
export interface TenantUsage {
  name: string;
  /** In the running configuration (false: removed while running, its sessions draining). */
  active: boolean;
  packets64: number;
  translated64: number;
  translated46: number;
  bytes64: number;
  bytes46: number;
  refused64: number;
  sessions: number;
  subscribers: number;
  /** Port blocks its subscribers hold, node-wide. */
  blocks: number;
  /** Its share of pool4: its own addresses (`dedicated`) or the undedicated ones, and their blocks. */
  pool: { dedicated: boolean; addresses: number; totalBlocks: number; used: number };
  limits: {
    blocksMax: number;
    subscriberBlocksMax: number;
    subscriberSessionsMax: number;
    sessionsMax: number;
  };
}

/** The main thread's view: slot per name (TenantSlots), the running tenants, every worker's row. */
export interface TenantStatsSource {
  slotOf(name: string): number | undefined;
  names(): string[];
  current(): readonly TenantConfig[] | undefined;
  stats: readonly SharedArrayBuffer[];
  blocks: SharedArrayBuffer;
  engine: NatEngineConfig;
}

/** Every tenant with a slot: the running ones, and removed ones while they still hold sessions or blocks. */
export function tenantUsage(source: TenantStatsSource): TenantUsage[] {
  const rows = source.stats.map((s) => new Float64Array(s));
  const blocks = new Int32Array(source.blocks);
  const current = source.current() ?? [];
  const addresses = current.length === 0 ? [] : tenantPoolAddresses(current, source.engine);
  const blocksPerAddress = source.engine.protocols.reduce((sum, p) => sum + p.blocksPerAddress, 0);
  const out: TenantUsage[] = [];
  for (const name of source.names()) {
    const slot = source.slotOf(name) as number;
    const sum = (entry: number) => rows.reduce((s, row) => s + row[slot * TENANT_STAT_ENTRIES + entry], 0);
    const i = current.findIndex((t) => t.name === name);
    const tenant = i >= 0 ? current[i] : undefined;
    const usage: TenantUsage = {
      name,
      active: tenant !== undefined,
      packets64: sum(TenantStat.packets64),
      translated64: sum(TenantStat.translated64),
      translated46: sum(TenantStat.translated46),
      bytes64: sum(TenantStat.bytes64),
      bytes46: sum(TenantStat.bytes46),
      refused64: sum(TenantStat.refused64),
      sessions: sum(TenantStat.sessions),
      subscribers: sum(TenantStat.subscribers),
      blocks: Atomics.load(blocks, slot),
      pool: { dedicated: false, addresses: 0, totalBlocks: 0, used: 0 },
      limits: {
        blocksMax: tenant?.blocksMax ?? 0,
        subscriberBlocksMax: tenant?.subscriberBlocksMax || source.engine.subscriberBlocksMax,
        subscriberSessionsMax: tenant?.subscriberSessionsMax || source.engine.subscriberSessionsMax,
        sessionsMax: tenant?.sessionsMax ?? 0,
      },
    };
    if (tenant !== undefined) {
      const totalBlocks = addresses[i].length * blocksPerAddress;
      usage.pool = {
        dedicated: tenant.pool4.length > 0,
        addresses: addresses[i].length,
        totalBlocks,
        used: totalBlocks === 0 ? 0 : usage.blocks / totalBlocks,
      };
    } else if (usage.sessions === 0 && usage.blocks === 0) continue;
    out.push(usage);
  }
  return out;
}

/** The `tenant.<name>.<figure>` entries of the status document's counters (running tenants). */
export function tenantStatusCounters(usage: readonly TenantUsage[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of usage) {
    if (!u.active) continue;
    for (const name of [...tenantCounterNames, ...tenantWorkerGaugeNames, 'blocks'] as const)
      out[`tenant.${u.name}.${name}`] = u[name];
  }
  return out;
}

/** The per-tenant metrics (`tenant` attribute, `direction` where it has one), read on each scrape. */
export function tenantMetrics(usage: () => TenantUsage[]): ObservedMetric[] {
  const metric = (
    name: string,
    kind: 'counter' | 'gauge',
    unit: string,
    description: string,
    pick: (u: TenantUsage) => [number, string | undefined][],
  ): ObservedMetric => ({
    metric: `xlat64.tenant.${name}`,
    kind,
    unit,
    description,
    observe: () =>
      usage().flatMap((u) =>
        pick(u).map(([value, direction]) => ({
          value,
          attributes: direction === undefined ? { tenant: u.name } : { tenant: u.name, direction },
        })),
      ),
  });
  return [
    metric('packets', 'counter', '{packet}', 'per tenant: IPv6 packets from its subscribers', (u) => [
      [u.packets64, '6to4'],
    ]),
    metric('translated', 'counter', '{packet}', 'per tenant: packets translated, by direction', (u) => [
      [u.translated64, '6to4'],
      [u.translated46, '4to6'],
    ]),
    metric('bytes', 'counter', 'By', 'per tenant: bytes translated (as received), by direction', (u) => [
      [u.bytes64, '6to4'],
      [u.bytes46, '4to6'],
    ]),
    metric('refused', 'counter', '{packet}', 'per tenant: packets of its subscribers not translated', (u) => [
      [u.refused64, '6to4'],
    ]),
    metric('sessions', 'gauge', '{session}', 'per tenant: NAT sessions of its subscribers', (u) => [
      [u.sessions, undefined],
    ]),
    metric('subscribers', 'gauge', '{subscriber}', 'per tenant: subscribers holding state', (u) => [
      [u.subscribers, undefined],
    ]),
    metric('blocks', 'gauge', '{block}', 'per tenant: port blocks its subscribers hold', (u) => [
      [u.blocks, undefined],
    ]),
  ];
}
