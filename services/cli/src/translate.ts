// `xlat64 translate`: an operator's debugging tool (and a test driver) that runs raw L3 packets
// through the stateless RFC 7915 translator configured by flags or a config file, and prints the
// translated packets (hex or pcap) or the verdict and drop reason of each input packet.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  createTranslator,
  dropReasonName,
  type Translator,
  type TranslatorConfigInput,
  Verdict,
} from '../../../libs/xlat/src/index.js';
import type { Command } from './command.js';
import { readConfigFile } from './config-file.js';
import { CliUsageError } from './errors.js';
import { isPcap, readPcap, writePcap } from './pcap.js';

const configKeys = [
  'prefix',
  'allowNonGlobalIpv4',
  'eam',
  'pool6791',
  'lowestIpv6Mtu',
  'mtu6',
  'mtu4',
  'udpZeroChecksum',
  'eamHairpinning',
  'pool6791v6',
] as const;

const help = `usage: xlat64 translate [options] [FILE]

Translates raw IPv4/IPv6 packets with the stateless RFC 7915 translator and prints the result.
Input: FILE, or standard input when FILE is absent or '-'. Its format is detected (pcap, hex, raw)
unless --input-format says otherwise. Hex input is one packet per line (spaces and ':' allowed,
'#' starts a comment). A raw input is one packet.

Output (per input packet), --output-format hex (default):
  <hex>                 a translated packet (several lines when it was fragmented)
  reply <reason> <hex>  an ICMP error to send back to the packet's source, and why
  drop <reason>         the packet was dropped, with the drop reason's name
  --output-format pcap writes translated packets and replies to --out as a LINKTYPE_RAW capture
  --output-format raw writes translated packets and replies back to back

Translator options (a --config YAML/JSON file takes the same names; flags win):
  --prefix P               RFC 6052 prefix (default 64:ff9b::/96); lengths 32,40,48,56,64,96
  --allow-non-global       allow non-global IPv4 in 64:ff9b::/96 (RFC 6052 sec. 3.1; labs)
  --eam V4=V6              RFC 7757 explicit mapping, e.g. 192.0.2.1/32=2001:db8::1/128 (repeat)
  --pool6791 P             RFC 6791 IPv4 source pool for untranslatable ICMP errors (repeat)
  --lowest-ipv6-mtu N      fragment IPv4 packets without DF to this IPv6 size (default 1280)
  --mtu4 N, --mtu6 N       MTUs of the two sides (default 1500)
  --udp-zero-checksum compute|drop   IPv4 UDP with checksum 0 (default compute)
  --config FILE            YAML or JSON with the options above (camelCase names)

Other options:
  --direction auto|46|64   force the direction (default auto: by the IP version nibble)
  --input-format auto|pcap|hex|raw
  --output-format hex|pcap|raw
  --out FILE               write output there instead of standard output
  -h, --help
`;

export const translateCommand: Command = {
  name: 'translate',
  summary: 'translate raw packets (hex, binary or pcap) with the stateless RFC 7915 translator',
  async run(argv) {
    const { values, positionals } = parseOptions(argv);
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const config = buildConfig(values);
    const translator = createTranslator(config);
    for (const warning of translator.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (positionals.length > 1) {
      throw new CliUsageError(`one input file at most, got ${positionals.length}: ${positionals.join(' ')}`);
    }
    const source = positionals[0] ?? '-';
    const data = source === '-' ? readStdin() : readInput(source);
    const packets = decodeInput(data, source, values['input-format'] ?? 'auto');
    const direction = values.direction ?? 'auto';
    if (!['auto', '46', '64'].includes(direction)) {
      throw new CliUsageError(`--direction '${direction}': use auto, 46 (IPv4 to IPv6) or 64 (IPv6 to IPv4)`);
    }
    const outputFormat = values['output-format'] ?? 'hex';
    if (!['hex', 'pcap', 'raw'].includes(outputFormat)) {
      throw new CliUsageError(`--output-format '${outputFormat}': use hex, pcap or raw`);
    }
    const results = translateAll(translator, packets, direction);
    const out = encodeOutput(results, outputFormat);
    if (values.out !== undefined) writeFileSync(values.out, out);
    else process.stdout.write(out);
    if (outputFormat !== 'hex') {
      const drops = results.filter((r) => r.verdict === 'drop');
      for (const d of drops) process.stderr.write(`packet ${d.index + 1}: drop ${d.reason}\n`);
    }
    return 0;
  },
};

function parseOptions(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        prefix: { type: 'string' },
        'allow-non-global': { type: 'boolean' },
        eam: { type: 'string', multiple: true },
        pool6791: { type: 'string', multiple: true },
        'lowest-ipv6-mtu': { type: 'string' },
        mtu4: { type: 'string' },
        mtu6: { type: 'string' },
        'udp-zero-checksum': { type: 'string' },
        config: { type: 'string' },
        direction: { type: 'string' },
        'input-format': { type: 'string' },
        'output-format': { type: 'string' },
        out: { type: 'string' },
      },
    });
  } catch (error) {
    throw new CliUsageError(`${(error as Error).message}; see 'xlat64 translate --help'`);
  }
}

type Options = ReturnType<typeof parseOptions>['values'];

function buildConfig(values: Options): TranslatorConfigInput {
  const file = values.config === undefined ? {} : readConfigFile(values.config, configKeys);
  const config = { prefix: '64:ff9b::/96', ...file } as TranslatorConfigInput;
  if (values.prefix !== undefined) config.prefix = values.prefix;
  if (values['allow-non-global']) config.allowNonGlobalIpv4 = true;
  if (values.eam !== undefined) {
    config.eam = values.eam.map((entry) => {
      const [ipv4, ipv6, ...rest] = entry.split('=');
      if (ipv4 === undefined || ipv6 === undefined || rest.length > 0) {
        throw new CliUsageError(
          `--eam '${entry}': write IPV4PREFIX=IPV6PREFIX, e.g. 192.0.2.1/32=2001:db8::1/128`,
        );
      }
      return { ipv4, ipv6 };
    });
  }
  if (values.pool6791 !== undefined) config.pool6791 = values.pool6791.flatMap((p) => p.split(','));
  if (values['lowest-ipv6-mtu'] !== undefined) {
    config.lowestIpv6Mtu = integerFlag('--lowest-ipv6-mtu', values['lowest-ipv6-mtu']);
  }
  if (values.mtu4 !== undefined) config.mtu4 = integerFlag('--mtu4', values.mtu4);
  if (values.mtu6 !== undefined) config.mtu6 = integerFlag('--mtu6', values.mtu6);
  const zero = values['udp-zero-checksum'];
  if (zero !== undefined) {
    if (zero !== 'compute' && zero !== 'drop') {
      throw new CliUsageError(`--udp-zero-checksum '${zero}': use compute or drop`);
    }
    config.udpZeroChecksum = zero;
  }
  return config;
}

function integerFlag(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new CliUsageError(`${flag} '${text}': expected a whole number of bytes`);
  return Number(text);
}

function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliUsageError(
      `input ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
}

function readStdin(): Uint8Array {
  try {
    return readFileSync(0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
      throw new CliUsageError('standard input is not readable; pass a FILE or pipe packets in');
    }
    throw error;
  }
}

export function decodeInput(data: Uint8Array, source: string, format: string): Uint8Array[] {
  const name = source === '-' ? 'standard input' : source;
  switch (format) {
    case 'pcap':
      return readPcap(data, name).records.map((r) => r.packet);
    case 'hex':
      return decodeHex(data, name);
    case 'raw':
      return [data];
    case 'auto':
      if (isPcap(data)) return readPcap(data, name).records.map((r) => r.packet);
      if (looksLikeHex(data)) return decodeHex(data, name);
      return [data];
    default:
      throw new CliUsageError(`--input-format '${format}': use auto, pcap, hex or raw`);
  }
}

function looksLikeHex(data: Uint8Array): boolean {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const withoutComments = text.replace(/#[^\n]*/g, '');
  return /^[0-9a-fA-F:\s]*$/.test(withoutComments) && /[0-9a-fA-F]/.test(withoutComments);
}

function decodeHex(data: Uint8Array, source: string): Uint8Array[] {
  const lines = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1').split('\n');
  const packets: Uint8Array[] = [];
  lines.forEach((line, index) => {
    const digits = line.replace(/#.*/, '').replace(/[\s:]/g, '');
    if (digits.length === 0) return;
    if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length % 2 !== 0) {
      throw new CliUsageError(
        `${source} line ${index + 1}: not an even number of hex digits; write one packet per line as hex bytes`,
      );
    }
    packets.push(Uint8Array.from(Buffer.from(digits, 'hex')));
  });
  if (packets.length === 0) throw new CliUsageError(`${source}: no packets found`);
  return packets;
}

export interface TranslateOutcome {
  index: number;
  verdict: 'translate' | 'reply' | 'drop';
  reason: string;
  packets: Uint8Array[];
}

export function translateAll(
  translator: Translator,
  packets: Uint8Array[],
  direction: string,
): TranslateOutcome[] {
  const outcomes: TranslateOutcome[] = [];
  packets.forEach((packet, index) => {
    const output = new Uint8Array(packet.length + 4096);
    const version = packet.length > 0 ? packet[0] >> 4 : 0;
    const toV6 = direction === '46' || (direction === 'auto' && version === 4);
    const toV4 = direction === '64' || (direction === 'auto' && version === 6);
    if (!toV6 && !toV4) {
      outcomes.push({
        index,
        verdict: 'drop',
        reason: 'not an IPv4 or IPv6 packet (version nibble)',
        packets: [],
      });
      return;
    }
    const verdict = toV6 ? translator.v4ToV6(packet, output) : translator.v6ToV4(packet, output);
    const result = translator.result;
    const written: Uint8Array[] = [];
    if (verdict !== Verdict.Drop) {
      let offset = 0;
      for (let i = 0; i < result.count; i++) {
        written.push(output.slice(offset, offset + result.lengths[i]));
        offset += result.lengths[i];
      }
    }
    outcomes.push({
      index,
      verdict: verdict === Verdict.Translate ? 'translate' : verdict === Verdict.ReplyIcmp ? 'reply' : 'drop',
      reason: dropReasonName(result.reason),
      packets: written,
    });
  });
  return outcomes;
}

function encodeOutput(outcomes: TranslateOutcome[], format: string): Uint8Array {
  if (format === 'hex') {
    const lines: string[] = [];
    for (const o of outcomes) {
      if (o.verdict === 'drop') lines.push(`drop ${o.reason}`);
      for (const p of o.packets) {
        const hex = Buffer.from(p).toString('hex');
        lines.push(o.verdict === 'reply' ? `reply ${o.reason} ${hex}` : hex);
      }
    }
    return Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : '');
  }
  const all = outcomes.flatMap((o) => o.packets);
  if (format === 'raw') return Buffer.concat(all);
  return writePcap(all.map((packet, i) => ({ packet, timeUs: i })));
}
