// Public surface of services/ingress: the PLAT role on a TUN device (`xlat64 plat`) — its
// configuration, start/stop, and the per-packet step (flow-key extraction, IPv4 fragment table,
// NAT engine, stateful RFC 7915 rewrite) the queue workers run.

export { platSetupSteps, poolCidrs, startPlat } from './plat.js';
export {
  firstPoolAddress,
  natEngineConfig,
  type PlatConfig,
  parsePlatConfig,
  platConfigKeys,
  platTranslatorConfig,
} from './plat-config.js';
export { type PlatQueueOptions, platCounterLayout, platGaugeNames } from './plat-queue-handler.js';
export {
  createPlatStep,
  PlatStep,
  type PlatStepOptions,
  platDropNames,
} from './plat-step.js';
export {
  parseTenants,
  TENANTS_MAX,
  type TenantConfig,
  tenantConfigKeys,
  tenantPrefixTable,
} from './tenants/tenant-config.js';
export { NO_TENANT, TENANT_PREFIX_LENGTH_MAX, TenantPrefixTable } from './tenants/tenant-lpm.js';
export { TenantNames } from './tenants/tenant-names.js';
export {
  TENANT_STAT_ENTRIES,
  type TenantUsage,
  tenantCounterNames,
  tenantWorkerGaugeNames,
} from './tenants/tenant-stats.js';
export { type TenantUsageRecord, tenantUsageRecords, type UsageConfig } from './tenants/tenant-usage.js';
