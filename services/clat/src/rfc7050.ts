// RFC 7050 (with RFC 8880's rules for the name): PREF64 discovery by DNS64. Ask the resolver for
// the AAAA records of `ipv4only.arpa`, whose only A records are the well-known addresses
// 192.0.0.170 and 192.0.0.171; each synthesized AAAA embeds one of them, and where it sits gives
// the prefix length (RFC 7050 sec. 3, RFC 6052 sec. 2.2). Bad answers are values naming the reason.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import {
  formatIpv6Address,
  parseIpv4Address,
  Rfc6052Prefix,
  rfc6052PrefixLengths,
} from '../../../libs/xlat/src/index.js';

/** RFC 7050 sec. 2 / RFC 8880 sec. 2. */
export const IPV4ONLY_ARPA = 'ipv4only.arpa';
export const WELL_KNOWN_IPV4_170 = parseIpv4Address('192.0.0.170')! | 0;
export const WELL_KNOWN_IPV4_171 = parseIpv4Address('192.0.0.171')! | 0;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** Why a DNS64 answer gave no prefix; each is a counter `dns.malformed.<reason>`. */
export const dnsProblemReasons = [
  'short', // shorter than a DNS header, or a record runs past the end
  'id', // the answer's id is not the query's
  'notresponse', // QR bit clear, or opcode not QUERY
  'rcode', // the resolver answered with an error (e.g. NXDOMAIN: no DNS64 there)
  'truncated', // TC set: the answer did not fit (RFC 7050 discovery answers are small)
  'name', // a compression pointer loops or points forward, or a label is too long
  'noaaaa', // no AAAA record in the answer (the resolver does no DNS64)
  'nowka', // an AAAA record embeds neither 192.0.0.170 nor 192.0.0.171 anywhere (RFC 7050 sec. 3)
  'timeout', // no answer from any server in time
] as const;
export type DnsProblemReason = (typeof dnsProblemReasons)[number];

export interface DnsProblem {
  readonly reason: DnsProblemReason;
  readonly why: string;
}

export interface DiscoveredPrefix {
  readonly prefix: string;
  readonly length: number;
}

export interface Dns64Discovery {
  readonly prefixes: DiscoveredPrefix[];
  /** Smallest TTL of the AAAA records: when to ask again (RFC 7050 sec. 5). */
  readonly ttlSeconds: number;
  /** Answers that were usable only in part (e.g. one of two AAAA records ambiguous). */
  readonly problems: DnsProblem[];
}

/** A standard query with RD set for the AAAA records of `name`. */
export function encodeAaaaQuery(id: number, name = IPV4ONLY_ARPA): Uint8Array {
  assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffff, 'DNS id is 16 bits');
  const labels = name.split('.').filter((label) => label !== '');
  const out = new Uint8Array(12 + labels.reduce((n, l) => n + 1 + l.length, 0) + 1 + 4);
  out[0] = id >>> 8;
  out[1] = id & 0xff;
  out[2] = 0x01; // RD
  out[5] = 1; // QDCOUNT
  let offset = 12;
  for (const label of labels) {
    assert.ok(label.length <= 63, `DNS label '${label}' is longer than 63 bytes`);
    out[offset++] = label.length;
    for (let i = 0; i < label.length; i++) out[offset++] = label.charCodeAt(i);
  }
  out[offset++] = 0;
  out[offset++] = 0;
  out[offset++] = TYPE_AAAA;
  out[offset++] = 0;
  out[offset++] = CLASS_IN;
  return out;
}

export interface AaaaAnswer {
  readonly address: Uint8Array;
  readonly ttlSeconds: number;
}

/** Reads the AAAA records of an answer to `encodeAaaaQuery(id)`. */
export function decodeAaaaAnswer(message: Uint8Array, id: number): AaaaAnswer[] | DnsProblem {
  if (message.length < 12) return { reason: 'short', why: `${message.length} bytes; a DNS header is 12` };
  const answerId = (message[0] << 8) | message[1];
  if (answerId !== id) return { reason: 'id', why: `answer id ${answerId}, query id ${id}` };
  if ((message[2] & 0x80) === 0 || (message[2] & 0x78) !== 0) {
    return { reason: 'notresponse', why: 'QR clear or opcode not QUERY' };
  }
  if ((message[2] & 0x02) !== 0) return { reason: 'truncated', why: 'TC set: the answer was cut' };
  const rcode = message[3] & 0x0f;
  if (rcode !== 0) {
    return { reason: 'rcode', why: `rcode ${rcode}${rcode === 3 ? ' (NXDOMAIN)' : ''} for ${IPV4ONLY_ARPA}` };
  }
  const questions = (message[4] << 8) | message[5];
  const answers = (message[6] << 8) | message[7];
  let offset = 12;
  for (let q = 0; q < questions; q++) {
    const end = skipName(message, offset);
    if (typeof end !== 'number') return end;
    offset = end + 4;
  }
  const found: AaaaAnswer[] = [];
  for (let a = 0; a < answers; a++) {
    const end = skipName(message, offset);
    if (typeof end !== 'number') return end;
    if (end + 10 > message.length) return { reason: 'short', why: `answer record ${a} is cut off` };
    const type = (message[end] << 8) | message[end + 1];
    const klass = (message[end + 2] << 8) | message[end + 3];
    const ttl =
      ((message[end + 4] << 24) | (message[end + 5] << 16) | (message[end + 6] << 8) | message[end + 7]) >>>
      0;
    const rdLength = (message[end + 8] << 8) | message[end + 9];
    const rdata = end + 10;
    if (rdata + rdLength > message.length)
      return { reason: 'short', why: `answer record ${a} data is cut off` };
    // CNAMEs and other types in the answer are skipped; only AAAA carries a synthesized address.
    if (type === TYPE_AAAA && klass === CLASS_IN) {
      if (rdLength !== 16) return { reason: 'short', why: `AAAA record ${a} has ${rdLength} bytes, not 16` };
      // RFC 2181 sec. 8: a TTL with the top bit set is read as 0.
      found.push({ address: message.slice(rdata, rdata + 16), ttlSeconds: ttl > 0x7fffffff ? 0 : ttl });
    }
    offset = rdata + rdLength;
  }
  if (found.length === 0) {
    return { reason: 'noaaaa', why: `no AAAA record for ${IPV4ONLY_ARPA}: the resolver does not do DNS64` };
  }
  return found;
}

function skipName(message: Uint8Array, start: number): number | DnsProblem {
  let offset = start;
  for (let labels = 0; labels < 128; labels++) {
    if (offset >= message.length)
      return { reason: 'short', why: `a name at byte ${start} runs past the end` };
    const length = message[offset];
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) {
      if (offset + 2 > message.length) return { reason: 'short', why: 'a compression pointer is cut off' };
      const target = ((length & 0x3f) << 8) | message[offset + 1];
      // A pointer only ends the name here; checking that it points backwards is enough to refuse loops.
      if (target >= offset)
        return { reason: 'name', why: `compression pointer at ${offset} points forward to ${target}` };
      return offset + 2;
    }
    if ((length & 0xc0) !== 0)
      return { reason: 'name', why: `label type 0x${length.toString(16)} at byte ${offset}` };
    offset += 1 + length;
  }
  return { reason: 'name', why: `more than 128 labels in a name at byte ${start}` };
}

const probes = rfc6052PrefixLengths.map((length) => new Rfc6052Prefix(new Uint8Array(16), length));
/** First byte after the embedded IPv4 address, per probe (the suffix runs from there to byte 15). */
const suffixStart = rfc6052PrefixLengths.map(
  (length) => ({ 32: 9, 40: 10, 48: 11, 56: 12, 64: 13, 96: 16 })[length],
);

/**
 * The prefix lengths at which `address` is a well-formed RFC 6052 sec. 2.2 embedding of `ipv4`:
 * the octets at that length's positions, the u octet (bits 64-71) zero and the suffix zero. With the
 * u octet and suffix checked, two lengths can never both fit (the longer one's last IPv4 octet lies
 * in the shorter one's suffix), so RFC 7050 sec. 3's ambiguity between positions cannot arise.
 */
function lengthsEmbedding(address: Uint8Array, ipv4: number): number[] {
  const lengths: number[] = [];
  if (address[8] !== 0) return lengths;
  probes.forEach((probe, i) => {
    if (probe.extract(address, 0) !== ipv4) return;
    for (let b = suffixStart[i]; b < 16; b++) if (address[b] !== 0) return;
    lengths.push(probe.length);
  });
  return lengths;
}

/**
 * RFC 7050 sec. 3: each AAAA record embedding 192.0.0.170 gives a prefix and its length by where the
 * address sits; records embedding 192.0.0.171 confirm and add nothing; a record embedding neither
 * is not used. Returns the distinct prefixes in answer order and the smallest TTL of those used.
 */
export function prefixesFromAaaa(answers: readonly AaaaAnswer[]): Dns64Discovery | DnsProblem {
  const prefixes: DiscoveredPrefix[] = [];
  const problems: DnsProblem[] = [];
  let ttlSeconds = Number.POSITIVE_INFINITY;
  for (const answer of answers) {
    const lengths = lengthsEmbedding(answer.address, WELL_KNOWN_IPV4_170);
    if (lengths.length === 0) {
      if (lengthsEmbedding(answer.address, WELL_KNOWN_IPV4_171).length > 0) continue;
      problems.push({
        reason: 'nowka',
        why: `${formatIpv6Address(answer.address)} embeds neither 192.0.0.170 nor 192.0.0.171 at an RFC 6052 position (u octet and suffix zero)`,
      });
      continue;
    }
    assert.equal(lengths.length, 1, 'two RFC 6052 lengths cannot both fit one address');
    const length = lengths[0];
    const address = new Uint8Array(answer.address);
    for (let bit = length; bit < 128; bit++) address[bit >> 3] &= ~(0x80 >> (bit & 7));
    const prefix = `${formatIpv6Address(address)}/${length}`;
    if (!prefixes.some((p) => p.prefix === prefix)) prefixes.push({ prefix, length });
    ttlSeconds = Math.min(ttlSeconds, answer.ttlSeconds);
  }
  if (prefixes.length === 0) return problems[0] ?? { reason: 'nowka', why: 'no usable AAAA record' };
  return { prefixes, ttlSeconds, problems };
}

export interface DnsServer {
  readonly address: string;
  readonly port: number;
}

/** '2001:db8::53', '192.0.2.53', '[2001:db8::53]:5353' or '192.0.2.53:5353'; null when none of these. */
export function parseDnsServer(text: string): DnsServer | null {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const withPort = bracket ?? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  const address = withPort ? withPort[1] : text;
  const port = withPort ? Number(withPort[2]) : 53;
  if (isIP(address) === 0 || port < 1 || port > 65535) return null;
  return { address, port };
}

/** The nameservers of a resolv.conf text, in order. */
export function nameserversOf(resolvConf: string): DnsServer[] {
  const servers: DnsServer[] = [];
  for (const line of resolvConf.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const server = match ? parseDnsServer(match[1].replace(/%.*$/, '')) : null;
    if (server) servers.push(server);
  }
  return servers;
}

/**
 * Asks each server in turn (one UDP query, `timeoutMs` each) and returns the first usable answer's
 * prefixes, or the last problem. Never throws for what the network or a resolver does.
 */
export async function discoverDns64(
  servers: readonly DnsServer[],
  options: { timeoutMs: number; id?: () => number } = { timeoutMs: 2000 },
): Promise<Dns64Discovery | DnsProblem> {
  let last: DnsProblem = { reason: 'timeout', why: 'no DNS server configured' };
  for (const server of servers) {
    const id = options.id?.() ?? Math.floor(Math.random() * 0x10000);
    const message = await queryOnce(server, encodeAaaaQuery(id), options.timeoutMs);
    if (message === null) {
      last = {
        reason: 'timeout',
        why: `no answer from ${server.address} port ${server.port} in ${options.timeoutMs} ms`,
      };
      continue;
    }
    const answers = decodeAaaaAnswer(message, id);
    const result = Array.isArray(answers) ? prefixesFromAaaa(answers) : answers;
    if ('prefixes' in result) return result;
    last = { reason: result.reason, why: `${server.address} port ${server.port}: ${result.why}` };
  }
  return last;
}

function queryOnce(server: DnsServer, query: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (value: Uint8Array | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    // Only the server we asked may answer (a spoofed answer from elsewhere is not read).
    socket.on('message', (message, remote) => {
      if (remote.address === server.address && remote.port === server.port) finish(new Uint8Array(message));
    });
    socket.send(query, server.port, server.address, (error) => {
      if (error) finish(null);
    });
  });
}
