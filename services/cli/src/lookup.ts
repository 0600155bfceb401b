// `xlat64 lookup ADDR:PORT --at TIME`: who held an external address and port at a time (RFC 6888 §4,
// RFC 6302). Reads the compliance topic in Kafka (services/state compliance/lookup.ts says how) and
// prints every holder whose lease overlaps [TIME − skew, TIME + skew], with the record ids as evidence
// and each holder's tenant. `--serve ADDR:PORT --credentials FILE` runs the same lookup as an HTTP
// service for the exchange's ISPs, each token seeing only its tenant's holders (lookup-server.ts).
import { parseArgs } from 'node:util';
import { parseIpv4 } from '../../nat-engine/src/index.js';
import {
  createKafka,
  defaultDeriverOptions,
  defaultOutboxOptions,
  type KafkaLookupOptions,
  type LookupCredential,
  type LookupResult,
  lookupInKafka,
  parseLookupCredentials,
  startLookupServer,
} from '../../state/src/index.js';
import type { Command } from './command.js';
import { readConfigFile } from './config-file.js';
import { CliUsageError } from './errors.js';
import { log, waitForStopSignal } from './role-runner.js';

const help = `usage: xlat64 lookup ADDRESS:PORT --at TIME [--proto tcp|udp|icmp] [--skew 2s] [--json]
                     [--tenant NAME] [--brokers HOST:PORT[,...]] [--topic NAME] [--held-interval 1h]
                     [--max-lag 1h | --scan-to-end]
       xlat64 lookup --serve HOST:PORT --credentials FILE [--brokers ...] [--topic NAME]
                     [--held-interval 1h] [--max-lag 1h | --scan-to-end]

Names every subscriber whose port block (or, in per-session mode, mapping) on ADDRESS covering
PORT was held at some moment within [TIME - skew, TIME + skew], with its tenant (ISP) and the ids
and times of the compliance records that show it. Both holders are named when a handover falls in
the window.

With --serve it answers HTTP GET /lookup?address=A&port=P&at=TIME[&proto=P][&skew=D] with the JSON
document of --json, for the bearer token of a credential in FILE (YAML/JSON):
  credentials:
    - { sha256: <printf '%s' "$TOKEN" | sha256sum>, tenant: isp-a, name: isp-a-noc }
    - { sha256: <...>, tenant: '*' }          # the exchange's operator: every holder
A tenant's token gets that tenant's holders only. One audit line per query on stderr. Stops on
SIGINT or SIGTERM.

  --at TIME          ISO 8601 with a zone (2026-11-30T10:15:02Z, 2026-11-30T11:15:02+01:00)
                     or milliseconds since the epoch
  --proto P          tcp, udp or icmp (default: all three)
  --skew D           clock tolerance around TIME (default 2s; units ms, s, m, h)
  --brokers LIST     Kafka bootstrap servers (default: $XLAT64_KAFKA_BROKERS)
  --topic NAME       compliance topic (default ${defaultOutboxOptions.topic})
  --held-interval D  the outbox's block-held interval (default 1h): how far back the scan starts
  --max-lag D        records produced up to D late (an outbox that waited for Kafka) are still
                     found (default 1h); --scan-to-end reads to the end of the partition
  --json             one JSON document: the query, the holders, what was scanned
  --tenant NAME      only the holders of this tenant (as its records name it)
  --serve HOST:PORT  run the HTTP lookup service (port 0: any free port, logged)
  --credentials FILE the tokens' hashes and tenants, for --serve
`;

export const lookupCommand: Command = {
  name: 'lookup',
  summary: 'who held ADDRESS:PORT at a time (compliance log in Kafka)',
  async run(argv) {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 lookup --help'`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    if (values.serve !== undefined) return serve(values, positionals);
    if (values.credentials !== undefined)
      throw new CliUsageError('xlat64 lookup: --credentials goes with --serve HOST:PORT');
    const target = positionals[0];
    if (target === undefined || positionals.length > 1) {
      throw new CliUsageError(
        "xlat64 lookup: give one ADDRESS:PORT, e.g. 203.0.113.5:40000; see 'xlat64 lookup --help'",
      );
    }
    const { address, port } = parseTarget(target);
    if (values.at === undefined)
      throw new CliUsageError('xlat64 lookup: --at TIME is required, e.g. --at 2026-11-30T10:15:02Z');
    const atMs = parseTime(values.at);
    const skewMs = parseDuration('--skew', values.skew ?? '2s');
    const protocol = values.proto;
    if (protocol !== undefined && protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'icmp') {
      throw new CliUsageError(`xlat64 lookup: --proto ${protocol} is not tcp, udp or icmp`);
    }
    const tenant = values.tenant;
    if (tenant !== undefined && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(tenant))
      throw new CliUsageError(`xlat64 lookup: --tenant ${tenant} is not a tenant name (e.g. isp-a)`);
    const result = await lookupInKafka(
      { address, port, protocol, atMs, skewMs, tenant },
      kafkaOptions(values),
    );
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatLookup(result));
    return 0;
  },
};

type Values = ReturnType<typeof parse>['values'];

function kafkaOptions(values: Values): KafkaLookupOptions {
  const brokers = (values.brokers ?? process.env.XLAT64_KAFKA_BROKERS ?? '')
    .split(',')
    .filter((b) => b !== '');
  if (brokers.length === 0) {
    throw new CliUsageError(
      'xlat64 lookup: no Kafka broker; pass --brokers HOST:PORT or set XLAT64_KAFKA_BROKERS',
    );
  }
  return {
    kafka: { brokers, clientId: 'xlat64-lookup' },
    topic: values.topic ?? defaultOutboxOptions.topic,
    heldIntervalMs: parseDuration(
      '--held-interval',
      values['held-interval'] ?? `${defaultDeriverOptions.heldIntervalMs}ms`,
    ),
    maxLagMs: parseDuration('--max-lag', values['max-lag'] ?? '1h'),
    scanToEnd: values['scan-to-end'] === true,
  };
}

/** `--serve HOST:PORT --credentials FILE`: the HTTP lookup service until SIGINT/SIGTERM. */
async function serve(values: Values, positionals: readonly string[]): Promise<number> {
  if (positionals.length > 0 || values.at !== undefined || values.tenant !== undefined)
    throw new CliUsageError(
      'xlat64 lookup --serve: the queries come over HTTP; give no ADDRESS:PORT, --at or --tenant (the token says the tenant)',
    );
  const listen = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):(\d{1,5})$/.exec(values.serve ?? '');
  if (listen === null || Number(listen[2]) > 65535)
    throw new CliUsageError(
      `xlat64 lookup: --serve ${values.serve} is not HOST:PORT, e.g. 127.0.0.1:8064 or [::1]:8064`,
    );
  if (values.credentials === undefined)
    throw new CliUsageError(
      "xlat64 lookup --serve: --credentials FILE is required (tokens' SHA-256 and tenants; see --help)",
    );
  const credentials = readCredentials(values.credentials);
  const options = kafkaOptions(values);
  const kafka = createKafka(options.kafka);
  const server = await startLookupServer(listen[1].replace(/^\[|\]$/g, ''), Number(listen[2]), {
    credentials,
    lookup: (query) => lookupInKafka(query, options, kafka),
    log,
  });
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  const tenants = [...new Set(credentials.map((c) => c.tenant))].join(', ');
  log(
    `lookup: serving http://${host}:${server.port}/lookup for ${credentials.length} credential(s) (tenants ${tenants}), topic ${options.topic}`,
  );
  const signal = await waitForStopSignal();
  log(`lookup: ${signal}: stopping`);
  await server.close();
  return 0;
}

function readCredentials(path: string): LookupCredential[] {
  const raw = readConfigFile(path, ['credentials'], '--credentials');
  try {
    return parseLookupCredentials(raw);
  } catch (error) {
    throw new CliUsageError(`--credentials ${path}: ${(error as Error).message}`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      at: { type: 'string' },
      proto: { type: 'string' },
      skew: { type: 'string' },
      brokers: { type: 'string' },
      topic: { type: 'string' },
      'held-interval': { type: 'string' },
      'max-lag': { type: 'string' },
      'scan-to-end': { type: 'boolean' },
      json: { type: 'boolean' },
      tenant: { type: 'string' },
      serve: { type: 'string' },
      credentials: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function parseTarget(text: string): { address: string; port: number } {
  const match = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  const port = match === null ? -1 : Number(match[2]);
  if (match === null || parseIpv4(match[1]) === -1 || port < 0 || port > 65535) {
    throw new CliUsageError(`xlat64 lookup: '${text}' is not IPV4:PORT (e.g. 203.0.113.5:40000)`);
  }
  return { address: match[1], port };
}

export function parseTime(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  // A time without a zone would mean the reader's local zone: refused, compliance answers need UTC.
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text) || Number.isNaN(Date.parse(text))) {
    throw new CliUsageError(
      `xlat64 lookup: --at ${text} is not an ISO 8601 time with a zone; write e.g. 2026-11-30T10:15:02Z or milliseconds since the epoch`,
    );
  }
  return Date.parse(text);
}

export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (match === null)
    throw new CliUsageError(`xlat64 lookup: ${flag} ${text} is not a duration such as 500ms, 2s, 1m or 1h`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * scale);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function formatLookup(result: LookupResult): string {
  const { query, holders } = result;
  const lines = [
    `${query.address}:${query.port}${query.protocol === undefined ? '' : `/${query.protocol}`} at ${iso(query.atMs)} ± ${query.skewMs} ms` +
      `${query.tenant === undefined ? '' : ` (tenant ${query.tenant})`}: ` +
      (holders.length === 0 ? 'no holder' : `${holders.length} holder${holders.length === 1 ? '' : 's'}`),
  ];
  for (const h of holders) {
    const who =
      h.ipv6Source !== undefined ? `${h.ipv6Source} port ${h.ipv6Port} (${h.subscriber})` : h.subscriber;
    const tenant = h.tenant === null ? '' : `  tenant ${h.tenant}`;
    lines.push(`  ${who}${tenant}${h.clatPrefix64 === null ? '' : `  CLAT ${h.clatPrefix64}`}`);
    const deterministic = h.level === 'deterministic';
    const until =
      h.endMs === null
        ? deterministic
          ? 'now (configuration still in effect)'
          : `still held (last shown ${iso(h.heldThroughMs)})`
        : iso(h.endMs);
    lines.push(
      `    ${h.level} ${h.address} ${h.protocol} ${h.portFirst}-${h.portLast}  from ${iso(h.startMs)} until ${until}`,
    );
    lines.push(
      `    ${deterministic ? 'by RFC 7422 formula' : `shard ${h.shard} epoch ${h.epoch}`}  evidence: ${h.evidence.map((e) => `${e.kind} ${e.id} @ ${iso(e.atMs)}`).join('; ')}`,
    );
  }
  const s = result.scanned;
  lines.push(
    `  (partition ${result.partition}, offsets ${s.fromOffset}-${s.toOffset}, ${s.records} records of this address read${s.fullScan ? ', whole partition' : ''})`,
  );
  return `${lines.join('\n')}\n`;
}
