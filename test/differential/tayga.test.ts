// Proves xlat64's stateless translator and TAYGA (Debian's package, the reference userspace SIIT)
// agree on seeded packets (valid UDP/TCP/ICMP both ways, IPv4 options, fragments, ICMP errors, TTL
// and hop limit 1, DF-clear packets above 1280) except in the classes of difference listed in
// test/vectors/tayga-differential.md, each explained by RFC text. TAYGA runs in a namespace of its
// own; tayga-driver.py writes each packet to its TUN and collects what TAYGA writes back. The same
// packets go through createTranslator, the translator `xlat64 translate` runs. A class of difference
// not in the table fails the test with an example.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { createTranslator, dropReasonNames, Verdict } from '../../libs/xlat/src/index.js';
import { Rng } from '../fuzz/support.js';
import { fragment4, fragment6, icmp, icmpEcho, ipv4, ipv6, type L4, tcp, udp } from '../support/build.js';

const COUNT = Number(process.env.XLAT64_DIFF_PACKETS ?? 100_000);
const SEED = Number(process.env.XLAT64_DIFF_SEED ?? 14_2026);
const NS = `x64t-tayga-diff-${process.pid}`;
const DIR = `/tmp/x64t-tayga-diff-${process.pid}`;
const DEV = 'x64diff';
const DRIVER = fileURLToPath(new URL('./tayga-driver.py', import.meta.url));
const TABLE = fileURLToPath(new URL('../vectors/tayga-differential.md', import.meta.url));
const PREFIX = '2001:db8:64::';

/** Hosts: IPv6 side 198.51.100.1-100 (as 2001:db8:64::198.51.100.x), IPv4 side 203.0.113.1-100. */
const host6 = (rng: Rng) => `${PREFIX}198.51.100.${1 + rng.int(100)}`;
const host4 = (rng: Rng) => `203.0.113.${1 + rng.int(100)}`;
const v4of = (a6: string) => a6.slice(PREFIX.length);

function l4(rng: Rng, family: 4 | 6, size: number): L4 {
  const kind = rng.int(3);
  if (kind === 0)
    return tcp({
      srcPort: 1 + rng.int(65535),
      dstPort: 1 + rng.int(65535),
      seq: rng.u32(),
      ack: rng.u32(),
      flags: rng.pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04]),
      payload: rng.bytes(size),
    });
  if (kind === 1)
    return udp({ srcPort: 1 + rng.int(65535), dstPort: 1 + rng.int(65535), payload: rng.bytes(size) });
  const echo = family === 4 ? rng.pick([8, 0]) : rng.pick([128, 129]);
  return icmpEcho(echo, rng.int(65536), rng.int(65536), rng.bytes(size));
}

/** One seeded input packet (a single packet: fragments are generated one at a time). */
function generate(rng: Rng): Buffer {
  const cls = rng.int(100);
  const size = rng.chance(0.85) ? rng.int(300) : rng.int(1400);
  if (cls < 30) {
    const src = host6(rng);
    const dst = `${PREFIX}${host4(rng)}`;
    return ipv6({
      src,
      dst,
      trafficClass: rng.int(256),
      flowLabel: rng.int(1 << 20),
      hopLimit: 1 + rng.int(255),
      payload: l4(rng, 6, size),
    });
  }
  if (cls < 60) {
    return ipv4({
      src: host4(rng),
      dst: v4of(host6(rng)),
      tos: rng.int(256),
      id: rng.int(65536),
      df: rng.chance(0.5),
      ttl: 1 + rng.int(255),
      payload: l4(rng, 4, size),
    });
  }
  if (cls < 65) {
    // IPv4 options: NOPs, record route, timestamp (RFC 7915 sec. 4.1: ignored), sometimes a source route.
    const options = rng.pick([
      Buffer.from([1, 1, 1, 1]),
      Buffer.from([7, 7, 4, 0, 0, 0, 0, 0]),
      Buffer.from([68, 8, 5, 0, 0, 0, 0, 0]),
      Buffer.from([131, 7, 4, 203, 0, 113, 9, 0]),
    ]);
    return ipv4({
      src: host4(rng),
      dst: v4of(host6(rng)),
      ttl: 64,
      df: rng.chance(0.5),
      options,
      payload: l4(rng, 4, size),
    });
  }
  if (cls < 72) {
    const whole = ipv4({
      src: host4(rng),
      dst: v4of(host6(rng)),
      id: rng.int(65536),
      ttl: 64,
      payload: l4(rng, 4, 200 + rng.int(600)),
    });
    const parts = fragment4(whole, [8 * (5 + rng.int(40))]);
    return rng.pick(parts);
  }
  if (cls < 79) {
    const whole = ipv6({
      src: host6(rng),
      dst: `${PREFIX}${host4(rng)}`,
      hopLimit: 64,
      payload: l4(rng, 6, 200 + rng.int(600)),
    });
    const parts = fragment6(whole, [8 * (5 + rng.int(40))], rng.u32());
    return rng.pick(parts);
  }
  if (cls < 89) {
    // ICMPv4 errors about a packet the IPv6 host sent (as seen on the IPv4 side).
    const h = v4of(host6(rng));
    const s = host4(rng);
    const quoted = ipv4({
      src: h,
      dst: s,
      ttl: 1 + rng.int(64),
      id: rng.int(65536),
      payload: l4(rng, 4, rng.int(200)),
    });
    const [type, code, rest] = rng.pick([
      [3, 3, 0],
      [3, 1, 0],
      [3, 4, 1400 + rng.int(100)],
      [3, 13, 0],
      [11, 0, 0],
      [12, 0, 0x0c000000],
    ] as const);
    const quote = quoted.subarray(0, Math.min(quoted.length, rng.chance(0.5) ? 28 : 548));
    return ipv4({
      src: rng.chance(0.5) ? s : `198.51.100.${150 + rng.int(50)}`,
      dst: h,
      ttl: 64,
      payload: icmp({ type, code, rest, body: quote }),
    });
  }
  if (cls < 97) {
    // ICMPv6 errors about a packet the IPv4 host sent (as seen on the IPv6 side).
    const h = host6(rng);
    const s = `${PREFIX}${host4(rng)}`;
    const quoted = ipv6({ src: s, dst: h, hopLimit: 1 + rng.int(64), payload: l4(rng, 6, rng.int(200)) });
    const [type, code, rest] = rng.pick([
      [1, 4, 0],
      [1, 0, 0],
      [1, 1, 0],
      [2, 0, 1280 + rng.int(200)],
      [3, 0, 0],
      [4, 0, 8],
    ] as const);
    const quote = quoted.subarray(0, Math.min(quoted.length, rng.chance(0.5) ? 48 : 1000));
    return ipv6({
      src: rng.chance(0.8) ? h : `${PREFIX}198.51.100.${150 + rng.int(50)}`,
      dst: s,
      hopLimit: 64,
      payload: icmp({ type, code, rest, body: quote }),
    });
  }
  // DF-clear IPv4 above 1260 bytes: fragmented to 1280 on the IPv6 side (RFC 7915 sec. 4).
  return ipv4({
    src: host4(rng),
    dst: v4of(host6(rng)),
    df: false,
    ttl: 64,
    id: rng.int(65536),
    payload: udp({ srcPort: 5000, dstPort: 53, payload: rng.bytes(1300 + rng.int(150)) }),
  });
}

interface Fields {
  [name: string]: string | number;
}

function fieldsOf(p: Uint8Array): Fields {
  const b = Buffer.from(p);
  if (b[0] >> 4 === 4) {
    const ihl = (b[0] & 15) * 4;
    const flags = b.readUInt16BE(6);
    return {
      version: 4,
      tos: b[1],
      length: b.readUInt16BE(2),
      id: b.readUInt16BE(4),
      df: (flags >> 14) & 1,
      mf: (flags >> 13) & 1,
      offset: flags & 0x1fff,
      ttl: b[8],
      protocol: b[9],
      src: b.subarray(12, 16).join('.'),
      dst: b.subarray(16, 20).join('.'),
      l4checksum: l4ChecksumOf(b.subarray(ihl), b[9], (flags & 0x1fff) === 0),
      ...quotedOf(b.subarray(ihl), b[9]),
    };
  }
  const nh = b[6];
  const frag = nh === 44;
  const at = frag ? 48 : 40;
  const proto = frag ? b[40] : nh;
  const offset = frag ? b.readUInt16BE(42) >> 3 : 0;
  return {
    version: 6,
    tc: ((b.readUInt32BE(0) >> 20) & 0xff) >>> 0,
    flowLabel: b.readUInt32BE(0) & 0xfffff,
    length: b.readUInt16BE(4),
    fragmentHeader: frag ? 1 : 0,
    id: frag ? b.readUInt32BE(44) : -1,
    mf: frag ? b[43] & 1 : 0,
    offset,
    hopLimit: b[7],
    protocol: proto,
    src: b.subarray(8, 24).toString('hex'),
    dst: b.subarray(24, 40).toString('hex'),
    l4checksum: l4ChecksumOf(b.subarray(at), proto, offset === 0),
    l4: l4Of(b.subarray(at), proto),
  };
}

/** The transport checksum field (compared apart: it follows from everything else). */
function l4ChecksumOf(l4b: Buffer, protocol: number, first: boolean): number {
  if (!first) return -1;
  const at = protocol === 6 ? 16 : protocol === 17 ? 6 : protocol === 1 || protocol === 58 ? 2 : -1;
  return at >= 0 && l4b.length >= at + 2 ? l4b.readUInt16BE(at) : -1;
}

/**
 * Transport bytes without the checksum field; for an ICMPv4 error, the quoted IPv4 header's
 * identification and flags apart (`quotedIdDf`) and its header checksum left out, so a difference
 * there is not counted as a difference of the whole message.
 */
function quotedOf(l4b: Buffer, protocol: number): Fields {
  if (protocol !== 1 || l4b.length < 28 || ![3, 11, 12].includes(l4b[0])) return { l4: l4Of(l4b, protocol) };
  const c = Buffer.from(l4b);
  const quotedIdDf = c.subarray(12, 16).toString('hex');
  c.fill(0, 12, 16);
  c.fill(0, 18, 20);
  return { quotedIdDf, l4: l4Of(c, protocol) };
}

/** Transport bytes without the checksum field. */
function l4Of(l4b: Buffer, protocol: number): string {
  const c = Buffer.from(l4b);
  const at = protocol === 6 ? 16 : protocol === 17 ? 6 : protocol === 1 || protocol === 58 ? 2 : -1;
  if (at >= 0 && c.length >= at + 2) c.writeUInt16BE(0, at);
  return c.toString('hex');
}

/** What kind of input a packet is, for the class names: protocol, ICMP error type and quote, fragment, options. */
function kindOf(p: Buffer): string {
  if (p[0] >> 4 === 4) {
    const ihl = (p[0] & 15) * 4;
    const flags = p.readUInt16BE(6);
    const frag = (flags & 0x1fff) !== 0 ? ' later fragment' : flags & 0x2000 ? ' first fragment' : '';
    const opts = ihl > 20 ? ' options' : '';
    if (p[9] === 1 && (flags & 0x1fff) === 0 && [3, 11, 12].includes(p[ihl])) {
      const inner = p.subarray(ihl + 8);
      const innerTotal = inner.length >= 4 ? inner.readUInt16BE(2) : 0;
      const whole = inner.length >= innerTotal ? 'whole' : 'truncated';
      return `icmp ${p[ihl]}/${p[ihl + 1]} quoting ${protocolName(inner[9], inner.subarray((inner[0] & 15) * 4))} ${whole}`;
    }
    return `${protocolName(p[9], (flags & 0x1fff) === 0 ? p.subarray(ihl) : undefined)}${frag}${opts}`;
  }
  const frag = p[6] === 44;
  const proto = frag ? p[40] : p[6];
  const later = frag && p.readUInt16BE(42) >> 3 !== 0;
  const fragText = frag ? (later ? ' later fragment' : ' first fragment') : '';
  if (proto === 58 && !frag && p[40] < 128) {
    const inner = p.subarray(48);
    const innerTotal = inner.length >= 6 ? 40 + inner.readUInt16BE(4) : 0;
    const whole = inner.length >= innerTotal ? 'whole' : 'truncated';
    return `icmp ${p[40]}/${p[41]} quoting ${protocolName(inner[6], inner.subarray(40))} ${whole}`;
  }
  return `${protocolName(proto, later ? undefined : p.subarray(frag ? 48 : 40))}${fragText}`;
}

function protocolName(n: number, l4b?: Uint8Array): string {
  if ((n === 1 || n === 58) && l4b !== undefined && l4b.length > 0) {
    const t = l4b[0];
    return t === 8 || t === 128
      ? 'icmp echo request'
      : t === 0 || t === 129
        ? 'icmp echo reply'
        : `icmp type ${t}`;
  }
  return n === 6 ? 'tcp' : n === 17 ? 'udp' : n === 1 || n === 58 ? 'icmp' : `protocol ${n}`;
}

/** Field names compared between the two translations (the family decides which exist). */
const compared = [
  'quotedIdDf',
  'tos',
  'tc',
  'flowLabel',
  'length',
  'id',
  'df',
  'mf',
  'offset',
  'fragmentHeader',
  'ttl',
  'hopLimit',
  'protocol',
  'src',
  'dst',
  'l4checksum',
  'l4',
];

interface Difference {
  count: number;
  example: string;
}

function readRecords(data: Buffer): (Buffer[] | null)[] {
  const out: (Buffer[] | null)[] = [];
  let at = 0;
  while (at < data.length) {
    const n = data.readUInt16BE(at);
    at += 2;
    if (n === 0xffff) {
      out.push(null);
      continue;
    }
    const packets: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const len = data.readUInt16BE(at);
      packets.push(data.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    out.push(packets);
  }
  return out;
}

/**
 * The difference classes the table explains: the first column of each row, between backticks, a
 * pattern in which `*` stands for any text.
 */
function explainedClasses(): RegExp[] {
  const patterns: RegExp[] = [];
  for (const line of readFileSync(TABLE, 'utf8').split('\n')) {
    const m = /^\| `([^`]+)`/.exec(line);
    if (!m) continue;
    const escaped = m[1].replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    patterns.push(new RegExp(`^${escaped}$`));
  }
  return patterns;
}

describe('differential: xlat64 against TAYGA', () => {
  beforeAll(() => {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(
      `${DIR}/tayga.conf`,
      [
        `tun-device ${DEV}`,
        'ipv4-addr 192.0.2.254',
        'ipv6-addr 2001:db8:ffff::254',
        `prefix ${PREFIX}/96`,
        'dynamic-pool 192.0.2.128/26',
        `data-dir ${DIR}`,
        '',
      ].join('\n'),
    );
    recordNamespaceOwner(NS);
    execFileSync('ip', ['netns', 'add', NS]);
    const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', NS, ...args], { stdio: 'pipe' });
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('tayga', '-c', `${DIR}/tayga.conf`, '--mktun');
    inNs('ip', 'link', 'set', DEV, 'up');
    inNs('tayga', '-c', `${DIR}/tayga.conf`, '-p', `${DIR}/tayga.pid`);
  });

  afterAll(() => {
    try {
      const pid = Number(readFileSync(`${DIR}/tayga.pid`, 'utf8').trim());
      if (pid > 0) process.kill(pid);
    } catch {
      // TAYGA did not start; nothing to stop.
    }
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(DIR, { recursive: true, force: true });
  });

  it(`${COUNT} seeded packets: every difference between xlat64 and TAYGA is a class the table explains`, () => {
    const rng = new Rng(SEED);
    const inputs: Buffer[] = [];
    for (let i = 0; i < COUNT; i++) inputs.push(generate(rng));
    const records = Buffer.concat(inputs.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 255]), p]));
    writeFileSync(`${DIR}/inputs.bin`, records);
    const report = execFileSync(
      'ip',
      ['netns', 'exec', NS, '/usr/bin/python3', DRIVER, DEV, `${DIR}/inputs.bin`, `${DIR}/outputs.bin`],
      { encoding: 'utf8', timeout: 600_000 },
    );
    const { lost } = JSON.parse(report.trim()) as { lost: number };
    const tayga = readRecords(readFileSync(`${DIR}/outputs.bin`));
    expect(tayga.length).toBe(COUNT);

    const t = createTranslator({
      prefix: `${PREFIX}/96`,
      ipv4Address: '192.0.2.254',
      ipv6Address: '2001:db8:ffff::254',
      lowestIpv6Mtu: 1280,
    });
    const out = new Uint8Array(70_000);
    const differences = new Map<string, Difference>();
    const note = (key: string, input: Buffer) => {
      const d = differences.get(key) ?? { count: 0, example: input.toString('hex').slice(0, 240) };
      d.count++;
      differences.set(key, d);
    };
    let agreed = 0;
    for (let i = 0; i < COUNT; i++) {
      const input = inputs[i];
      const theirs = tayga[i];
      if (theirs === null) continue; // counted in `lost`
      const dir = `${input[0] >> 4 === 4 ? '46' : '64'} ${kindOf(input)}`;
      const verdict = input[0] >> 4 === 4 ? t.v4ToV6(input, out) : t.v6ToV4(input, out);
      const ours: Buffer[] = [];
      if (verdict !== Verdict.Drop) {
        let at = 0;
        for (let k = 0; k < t.result.count; k++) {
          ours.push(Buffer.from(out.subarray(at, at + t.result.lengths[k])));
          at += t.result.lengths[k];
        }
      }
      const inFamily = input[0] >> 4;
      const outcome = (ps: Buffer[]) =>
        ps.length === 0 ? 'drop' : ps[0][0] >> 4 === inFamily ? 'reply' : 'translate';
      const kx = outcome(ours);
      const kt = outcome(theirs);
      const reason = verdict === Verdict.Translate ? '' : ` ${dropReasonNames[t.result.reason]}`;
      if (kx !== kt) {
        note(`${dir} xlat64 ${kx}${reason}, TAYGA ${kt}`, input);
        continue;
      }
      if (kx === 'drop') {
        agreed++;
        continue;
      }
      if (ours.length !== theirs.length) {
        note(`${dir} ${kx}: ${ours.length} packets, TAYGA ${theirs.length}`, input);
        continue;
      }
      let same = true;
      for (let k = 0; k < ours.length; k++) {
        const a = fieldsOf(ours[k]);
        const b = fieldsOf(theirs[k]);
        for (const name of compared) {
          if (a[name] === undefined || a[name] === b[name]) continue;
          // A checksum difference that only follows from another field's is not a class of its own.
          if (
            name === 'l4checksum' &&
            ['id', 'l4', 'quotedIdDf', 'src', 'dst', 'length'].some((n) => a[n] !== b[n])
          )
            continue;
          note(`${dir} ${kx}${reason}: ${name}`, input);
          same = false;
        }
      }
      if (same) agreed++;
    }
    const explained = explainedClasses();
    const unexplained = [...differences.entries()].filter(([key]) => !explained.some((p) => p.test(key)));
    const summary = [...differences.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([key, d]) => `${d.count}\t${key}\t${d.example}`)
      .join('\n');
    // Per table row: how many differences it explains (a packet may show several, e.g. id and df).
    const perRow = explained.map((pattern) => {
      let n = 0;
      for (const [key, d] of differences) if (pattern.test(key)) n += d.count;
      return `${n}\t${pattern.source}`;
    });
    // One summary, overwritten by each run (it was one more /tmp file per run, never removed).
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(
      'test-artifacts/tayga-differential-summary.txt',
      `agreed ${agreed} lost ${lost}\n${perRow.join('\n')}\n\n${summary}\n`,
    );
    expect(lost, 'inputs whose marker TAYGA did not return').toBe(0);
    expect(
      unexplained.map(([key, d]) => `${key} (${d.count}, e.g. ${d.example})`),
      'classes of difference not in test/vectors/tayga-differential.md',
    ).toEqual([]);
    expect(agreed).toBeGreaterThan(COUNT / 2);
  });
});
