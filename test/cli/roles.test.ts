// `xlat64 plat` and `xlat64 clat` refuse a bad configuration at start, before touching the system,
// with a message naming the field (as the operator wrote it) and the fix.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'x64-roles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function xlat64(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('role configuration refusals', () => {
  it.each([
    [['plat'], /^xlat64 plat: pool4: is required/m],
    [['plat', '--pool4', '203.0.113.0/33'], /pool4\[0\]: '203\.0\.113\.0\/33' is not an IPv4 prefix/],
    [['plat', '--pool4', '203.0.113.0/24', '--prefix', '64:ff9b::/95'], /prefix: .*95/],
    [
      ['plat', '--pool4', '203.0.113.0/24', '--device', 'this-name-is-too-long'],
      /device: .*not a valid interface name/,
    ],
    [['plat', '--pool4', '203.0.113.0/24', '--io', 'xdp'], /interface: is required with io 'xdp'/],
    [['plat', '--pool4', '203.0.113.0/24', '--io', 'dpdk'], /io: 'dpdk' is not an I\/O kind; use 'tun'/],
    [
      ['plat', '--pool4', '203.0.113.0/24', '--io', 'xdp', '--interface', 'eth0', '--xdp-mode', 'offload'],
      /xdpMode: 'offload' is not an XDP mode/,
    ],
    [
      ['plat', '--pool4', '203.0.113.0/24', '--io', 'xdp', '--interface', 'eth0', '--interface', 'eth0'],
      /interface4: is the IPv4 side's interface/,
    ],
    [['clat'], /^xlat64 clat: ipv6Address: is required/m],
    [
      ['clat', '--ipv6-address', '2001:db8::1', '--ipv6-mtu', '900'],
      /ipv6Mtu: expected a whole number from 1280/,
    ],
  ])('xlat64 %j is refused, naming the field', (args, message) => {
    const r = xlat64(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('names a NAT option inside the config file by its path, e.g. a UDP timeout under the RFC 4787 minimum', () => {
    const config = configFile('udp.yaml', 'pool4: [203.0.113.0/24]\nnat:\n  timeouts:\n    udpMs: 60000\n');
    const r = xlat64('plat', '--config', config);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nat\.timeouts\.udpMs/);
  });

  it('names a block size that does not divide the port range', () => {
    const config = configFile('block.yaml', 'pool4: [203.0.113.0/24]\nnat:\n  blockSizePorts: 1000\n');
    const r = xlat64('plat', '--config', config);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nat\.blockSizePorts/);
  });

  it('refuses an ICMP error rate of 0 per second, naming icmpErrorsPerSecond and the allowed range', () => {
    const config = configFile('icmp.yaml', 'pool4: [203.0.113.0/24]\nicmpErrorsPerSecond: 0\n');
    const r = xlat64('plat', '--config', config);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/icmpErrorsPerSecond: expected a whole number from 1 to/);
  });

  it('refuses an unknown key in a role config file, listing the valid ones', () => {
    const config = configFile('typo.yaml', 'pool4: [203.0.113.0/24]\npool6: 64:ff9b::/96\n');
    const r = xlat64('plat', '--config', config);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown key 'pool6'; valid keys: device, prefix");
  });
});
