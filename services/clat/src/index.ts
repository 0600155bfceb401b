// Public surface of services/clat: the customer-side stateless translator of 464XLAT
// (`xlat64 clat`, RFC 6877 sec. 6.3) — its configuration, start/stop and per-packet step.
export { clatSetupSteps, clatTranslatorConfig, startClat } from './clat.js';
export { type ClatConfig, clatConfigKeys, ipv4RouteMtu, parseClatConfig } from './config.js';
export type { ClatQueueOptions } from './queue-handler.js';
export { ClatStep, type ClatStepOptions, clatDropNames } from './step.js';
