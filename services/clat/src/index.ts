// Public surface of services/clat: the customer-side stateless translator of 464XLAT
// (`xlat64 clat`, RFC 6877 sec. 6.3) — its configuration, start/stop and per-packet step, and the
// PREF64 codecs (RFC 8781 option, RFC 7050 discovery) for tools that inspect them.
export { clatSetupSteps, clatTranslatorConfig, type RunningClat, startClat } from './clat.js';
export { type ClatConfig, clatConfigKeys, ipv4RouteMtu, parseClatConfig } from './config.js';
export type { ClatQueueOptions } from './queue-handler.js';
export { discoverDns64, parseDnsServer } from './rfc7050.js';
export { decodePref64Option, encodePref64Option, parseRouterAdvertisement } from './rfc8781.js';
export { ClatStep, type ClatStepOptions, clatCounterLayout, clatDropNames } from './step.js';
