// Public surface of services/cli: the `xlat64` command (bin/xlat64.mjs runs `run`), its
// subcommands, and the pcap reader/writer `xlat64 translate` uses.
export type { Command } from './command.js';
export { commands } from './commands.js';
export {
  analyseFlow,
  type DrillReport,
  distribution,
  type FlowReport,
  percentile,
  type RepeatReport,
} from './drill/report.js';
export { type DrillTarget, parseTarget } from './drill/target.js';
export { CliUsageError, DrillError, DrillTargetError } from './errors.js';
export { run } from './main.js';
export {
  isPcap,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  type PcapRecord,
  readPcap,
  writePcap,
} from './pcap.js';
export { formatStatus } from './status.js';
export { decodeInput, type TranslateOutcome, translateAll } from './translate.js';
