// Real-kernel proof of the super-packet translation path: TCP between an IPv4-only client and an
// IPv6-only server crosses two TUN devices and a minimal in-place NAT46 handler (fixtures/
// nat46-handler.ts) built on vnet.ts. The links after each translation have checksum offload off,
// so the kernel segments and checksums the translated super-packets in software and the receivers
// verify them: a wrong vnet rewrite or pseudo-header update fails the transfer or counts InCsumErrors.
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTun, type QueueSet, startQueues, type TunDevice, VnetGso } from '../src/index.js';
import { type Child, createNamespace, deleteNamespace, inNs, ip, spawnInNs } from './netns.js';

const NS_CLIENT = 'x64t-nc'; // IPv4-only client 192.0.2.2
const NS_T4 = 'x64t-n4'; // IPv4 side: c4a 192.0.2.1, TUN x64t-t4 <- 198.51.100.0/24
const NS_T6 = 'x64t-n6'; // IPv6 side: TUN x64t-t6 <- 64:ff9b::/96, s6a 2001:db8:b::1
const NS_SERVER = 'x64t-ns'; // IPv6-only server 2001:db8:b::2
const ALL = [NS_CLIENT, NS_T4, NS_T6, NS_SERVER];
const devices: TunDevice[] = [];
const queueSets: QueueSet[] = [];
const children: Child[] = [];
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

beforeAll(() => {
  for (const ns of ALL) createNamespace(ns);
});

afterAll(async () => {
  for (const child of children) await child.kill();
  for (const set of queueSets) await set.stop().catch(() => {});
  for (const d of devices) d.close();
  for (const ns of ALL) deleteNamespace(ns);
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function tcpInCsumErrors(ns: string): number {
  const snmp = inNs(ns, 'cat', '/proc/net/snmp').split('\n');
  const header = snmp.find((line) => line.startsWith('Tcp: '))!.split(/\s+/);
  const values = snmp.filter((line) => line.startsWith('Tcp: '))[1].split(/\s+/);
  return Number(values[header.indexOf('InCsumErrors')]);
}

describe('NAT46 of TCP super-packets through two TUN devices', () => {
  it('moves 8 MiB each way between an IPv4 client and an IPv6 server, translating GSO super-packets in both directions with checksums the receivers accept', async () => {
    ip(
      'link',
      'add',
      'x64t-c4b',
      'netns',
      NS_CLIENT,
      'type',
      'veth',
      'peer',
      'name',
      'x64t-c4a',
      'netns',
      NS_T4,
    );
    ip(
      'link',
      'add',
      'x64t-s6a',
      'netns',
      NS_T6,
      'type',
      'veth',
      'peer',
      'name',
      'x64t-s6b',
      'netns',
      NS_SERVER,
    );
    ip('-n', NS_CLIENT, 'addr', 'add', '192.0.2.2/24', 'dev', 'x64t-c4b');
    ip('-n', NS_CLIENT, 'link', 'set', 'x64t-c4b', 'up');
    ip('-n', NS_CLIENT, 'route', 'add', 'default', 'via', '192.0.2.1');
    ip('-n', NS_T4, 'addr', 'add', '192.0.2.1/24', 'dev', 'x64t-c4a');
    ip('-n', NS_T4, 'link', 'set', 'x64t-c4a', 'up');
    inNs(NS_T4, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    ip('-n', NS_T6, '-6', 'addr', 'add', '2001:db8:b::1/64', 'dev', 'x64t-s6a', 'nodad');
    ip('-n', NS_T6, 'link', 'set', 'x64t-s6a', 'up');
    inNs(NS_T6, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    ip('-n', NS_SERVER, '-6', 'addr', 'add', '2001:db8:b::2/64', 'dev', 'x64t-s6b', 'nodad');
    ip('-n', NS_SERVER, 'link', 'set', 'x64t-s6b', 'up');
    ip('-n', NS_SERVER, '-6', 'route', 'add', 'default', 'via', '2001:db8:b::1');
    // After translation, the kernel must segment and checksum in software on the way out.
    inNs(NS_T4, 'ethtool', '-K', 'x64t-c4a', 'tx', 'off');
    inNs(NS_T6, 'ethtool', '-K', 'x64t-s6a', 'tx', 'off');

    const t4 = openTun({ name: 'x64t-t4', vnetHdr: true, netnsPath: `/run/netns/${NS_T4}` });
    const t6 = openTun({ name: 'x64t-t6', vnetHdr: true, netnsPath: `/run/netns/${NS_T6}` });
    devices.push(t4, t6);
    ip('-n', NS_T4, 'link', 'set', t4.name, 'up');
    ip('-n', NS_T4, 'route', 'add', '198.51.100.0/24', 'dev', t4.name);
    ip('-n', NS_T6, 'link', 'set', t6.name, 'up');
    ip('-n', NS_T6, '-6', 'route', 'add', '64:ff9b::/96', 'dev', t6.name);

    const shared46 = new SharedArrayBuffer(6 * 8);
    const shared64 = new SharedArrayBuffer(6 * 8);
    const stats46 = new Float64Array(shared46);
    const stats64 = new Float64Array(shared64);
    queueSets.push(
      await startQueues({
        device: t4,
        handlerModule: fixture('nat46-handler.ts'),
        handlerOptions: { shared: shared46, direction: '4to6' },
        extraFds: t6.fds,
        headroomBytes: 20,
      }),
    );
    queueSets.push(
      await startQueues({
        device: t6,
        handlerModule: fixture('nat46-handler.ts'),
        handlerOptions: { shared: shared64, direction: '6to4' },
        extraFds: t4.fds,
      }),
    );

    const script = fileURLToPath(fixture('tcp-transfer.mjs'));
    const bytes = 8 * 1024 * 1024;
    const sink = spawnInNs(NS_SERVER, [process.execPath, script, 'sink', '2001:db8:b::2', '5001']);
    children.push(sink);
    await waitFor(() => sink.stdout().includes('listening'), 'upload sink');
    const upload = await spawnInNs(NS_CLIENT, [
      process.execPath,
      script,
      'source',
      '198.51.100.2',
      '5001',
      String(bytes),
    ]).exit;
    expect(upload.stderr).toBe('');
    expect(upload.stdout.trim()).toBe(String(bytes));

    const server = spawnInNs(NS_SERVER, [
      process.execPath,
      script,
      'serve',
      '2001:db8:b::2',
      '5002',
      String(bytes),
    ]);
    children.push(server);
    await waitFor(() => server.stdout().includes('listening'), 'download server');
    const download = await spawnInNs(NS_CLIENT, [process.execPath, script, 'fetch', '198.51.100.2', '5002'])
      .exit;
    expect(download.stderr).toBe('');
    expect(download.stdout.trim()).toBe(String(bytes));

    console.log(
      `4to6: translated ${stats46[0]} (${stats46[1]} super-packets), dropped ${stats46[3]}; ` +
        `6to4: translated ${stats64[0]} (${stats64[1]} super-packets), dropped ${stats64[3]}`,
    );
    expect(stats46[1]).toBeGreaterThan(0);
    expect(stats46[2] & (1 << VnetGso.tcpv4)).not.toBe(0);
    expect(stats64[1]).toBeGreaterThan(0);
    expect(stats64[2] & (1 << VnetGso.tcpv6)).not.toBe(0);
    expect(stats46[4] + stats64[4]).toBe(0); // no vnet rewrite refused
    expect(stats46[5] + stats64[5]).toBe(0); // the kernel accepted every translated packet
    expect(tcpInCsumErrors(NS_SERVER)).toBe(0);
    expect(tcpInCsumErrors(NS_CLIENT)).toBe(0);
  });
});
