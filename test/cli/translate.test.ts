// `xlat64 translate` runs packets given as hex, raw bytes or pcap through the configured stateless
// translator and prints translated packets, ICMP replies and named drop reasons; bad flags and
// configuration are refused with the field named.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcap, writePcap } from '../../services/cli/src/index.js';
import { formatIpv4, formatIpv6, ipv4, ipv6, parseIpv6, udp } from '../support/build.js';
import { checkPacket } from '../support/wellformed.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'x64-translate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function xlat64(args: string[], input?: string | Uint8Array) {
  return spawnSync(process.execPath, [bin, 'translate', ...args], { input, encoding: 'utf8' });
}

const payload = Buffer.from('xlat64 says hello');
const v6 = ipv6({
  src: '2001:db8::1',
  dst: '64:ff9b::c633:6402',
  hopLimit: 30,
  payload: udp({ srcPort: 4000, dstPort: 53, payload }),
});
const lab = ['--allow-non-global', '--eam', '192.0.2.1/32=2001:db8::1/128'];

describe('xlat64 translate', () => {
  it('translates an IPv6 UDP packet given as hex into a well-formed IPv4 packet', () => {
    const r = xlat64(lab, `# one packet\n${v6.toString('hex')}\n`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = Buffer.from(lines[0], 'hex');
    expect(checkPacket(out)).toEqual([]);
    expect(out[0] >> 4).toBe(4);
    expect(formatIpv4(out, 12)).toBe('192.0.2.1');
    expect(formatIpv4(out, 16)).toBe('198.51.100.2');
    expect(out[8]).toBe(29); // hop limit 30, decremented once (RFC 7915 sec. 5.1)
    expect(out[9]).toBe(17);
    expect(out.subarray(28)).toEqual(payload);
  });

  it('reads and writes pcap, reporting a time-exceeded reply and a drop with their reasons', () => {
    const expiring = ipv4({ src: '198.51.100.2', dst: '192.0.2.1', ttl: 1, payload: udp({ payload }) });
    const good = ipv4({ src: '198.51.100.2', dst: '192.0.2.1', ttl: 64, payload: udp({ payload }) });
    const garbage = Uint8Array.of(0x45, 0, 0, 5);
    const input = join(dir, 'in.pcap');
    const output = join(dir, 'out.pcap');
    writeFileSync(input, writePcap([expiring, good, garbage].map((packet, i) => ({ packet, timeUs: i }))));
    const r = xlat64([...lab, '--output-format', 'pcap', '--out', output, input]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('packet 3: drop truncated46\n');
    const { records } = readPcap(readFileSync(output), 'out.pcap');
    expect(records).toHaveLength(2);
    const [reply, translated] = records.map((x) => Buffer.from(x.packet));
    expect(reply[0] >> 4).toBe(4); // the ICMP error goes back in the input's family
    expect(reply[9]).toBe(1);
    expect(reply[20]).toBe(11); // ICMPv4 time exceeded
    expect(formatIpv4(reply, 16)).toBe('198.51.100.2');
    expect(translated[0] >> 4).toBe(6);
    expect(formatIpv6(translated, 8)).toBe(formatIpv6(parseIpv6('64:ff9b::c633:6402')));
    expect(formatIpv6(translated, 24)).toBe(formatIpv6(parseIpv6('2001:db8::1')));
    for (const packet of [reply, translated]) expect(checkPacket(packet)).toEqual([]);
  });

  it('prints the drop reason in hex mode, e.g. a non-global IPv4 inside 64:ff9b::/96 without the lab option', () => {
    const r = xlat64(['--eam', '192.0.2.1/32=2001:db8::1/128'], v6.toString('hex'));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('drop dstaddr64\n');
  });

  it('refuses an invalid prefix, naming the field', () => {
    const r = xlat64(['--prefix', '64:ff9b::/95'], v6.toString('hex'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/prefix/);
    expect(r.stderr).toMatch(/95/);
  });

  it('refuses an unknown key in the config file, naming it and the valid keys', () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'prefix: 64:ff9b::/96\nlowestIPv6MTU: 1280\n');
    const r = xlat64(['--config', config], v6.toString('hex'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown key 'lowestIPv6MTU'; valid keys: prefix, allowNonGlobalIpv4");
  });

  it('takes translator options from a config file, flags overriding it', () => {
    const config = join(dir, 'good.yaml');
    writeFileSync(
      config,
      'prefix: 2001:db8:64::/96\neam:\n  - { ipv4: 192.0.2.1/32, ipv6: 2001:db8::1/128 }\n',
    );
    const viaFile = ipv6({ src: '2001:db8::1', dst: '2001:db8:64::c633:6402', payload: udp({ payload }) });
    const r = xlat64(['--config', config], viaFile.toString('hex'));
    expect(r.status).toBe(0);
    expect(formatIpv4(Buffer.from(r.stdout.trim(), 'hex'), 16)).toBe('198.51.100.2');
    const overridden = xlat64(['--config', config, '--prefix', '64:ff9b::/96'], viaFile.toString('hex'));
    expect(overridden.stdout).toBe('drop dstaddr64\n');
  });

  it('refuses hex input with an odd number of digits, naming the line', () => {
    const r = xlat64([], '6000\nabc\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('standard input line 2: not an even number of hex digits');
  });
});
