// The list of subcommands, in the order `xlat64 --help` shows them. Each command's module is loaded
// only when that command runs, so `xlat64 clat` or `xlat64 status` never loads the PLAT's cluster
// clients (NATS, Kafka, Redis) nor the OpenTelemetry they do not use: start-up time and memory.
import type { Command } from './command.js';

/** Each command's own module (a test checks that its name and summary match the list below). */
export const commandLoaders: Readonly<Record<string, () => Promise<Command>>> = {
  plat: async () => (await import('./plat.js')).platCommand,
  clat: async () => (await import('./clat.js')).clatCommand,
  translate: async () => (await import('./translate.js')).translateCommand,
  status: async () => (await import('./status.js')).statusCommand,
  top: async () => (await import('./top.js')).topCommand,
  lookup: async () => (await import('./lookup.js')).lookupCommand,
  tenant: async () => (await import('./tenant.js')).tenantCommand,
  drill: async () => (await import('./drill.js')).drillCommand,
  version: async () => (await import('./version.js')).versionCommand,
};

const summaries: readonly [string, string][] = [
  ['plat', 'run a single-node PLAT (stateful NAT64, RFC 6146/6888) on a TUN device'],
  ['clat', 'run the CLAT (stateless RFC 7915 customer-side translator) on a TUN device'],
  ['translate', 'translate raw packets (hex, binary or pcap) with the stateless RFC 7915 translator'],
  ['status', 'show counters (traffic, drops by reason) of running xlat64 roles'],
  ['top', 'live terminal view of a running role: per-worker rates, top drop reasons, NAT state'],
  ['lookup', 'who held ADDRESS:PORT at a time (compliance log in Kafka)'],
  ['tenant', "the ISPs a running PLAT serves: usage per tenant, one tenant's figures, reload"],
  ['drill', "failover drill: fault one node under live flows, report each flow's gap and mapping"],
  ['version', 'print the xlat64 version'],
];

export const commands: readonly Command[] = summaries.map(([name, summary]) => ({
  name,
  summary,
  async run(argv: readonly string[]) {
    return (await commandLoaders[name]()).run(argv);
  },
}));
