// The PLAT's queue handler (NAT engine, RFC 7915 translation, batch writer) runs unchanged on an
// AF_XDP queue from libs/xdp instead of a TUN queue: an IPv6-only client's UDP and TCP (HTTP) reach an
// IPv4 server through the PREF64 and back, over a real veth in native XDP mode, with nothing routed
// through the kernel's forwarding path (forwarding is off in the PLAT namespace). Namespaces x64t-*-<pid>, removed in afterAll.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { createNamespace, deleteNamespace, inNs, ip, spawnInNs } from '../../../libs/tun/test/netns.js';
import { openXdpPort, startXdpQueues, type XdpPort, type XdpQueueSet } from '../../../libs/xdp/src/index.js';
import {
  firstPoolAddress,
  natEngineConfig,
  parsePlatConfig,
  platTranslatorConfig,
} from '../src/plat-config.js';
import { type PlatQueueOptions, platGaugeNames } from '../src/plat-queue-handler.js';
import { platDropNames } from '../src/plat-step.js';

const NS_NET = `x64t-pxn-${process.pid}`;
const NS_PLAT = `x64t-pxp-${process.pid}`;
const stateDir = mkdtempSync(join(tmpdir(), 'x64-plat-xdp-'));
let port: XdpPort | undefined;
let queues: XdpQueueSet | undefined;
const layout = roleCounterLayout(platDropNames, platGaugeNames);
const counters = [layout.allocate()];

beforeAll(async () => {
  createNamespace(NS_NET);
  createNamespace(NS_PLAT);
  ip(
    '-n',
    NS_NET,
    'link',
    'add',
    'a0',
    'numtxqueues',
    '1',
    'numrxqueues',
    '1',
    'type',
    'veth',
    'peer',
    'name',
    'b0',
    'netns',
    NS_PLAT,
    'numtxqueues',
    '1',
    'numrxqueues',
    '1',
  );
  // The network side is both the IPv6-only client (2001:db8::1) and the IPv4 server (192.0.2.1).
  ip('-n', NS_NET, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
  ip('-n', NS_NET, 'addr', 'add', '2001:db8::1/64', 'dev', 'a0', 'nodad');
  ip('-n', NS_PLAT, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
  ip('-n', NS_PLAT, 'addr', 'add', '2001:db8::2/64', 'dev', 'b0', 'nodad');
  ip('-n', NS_NET, 'link', 'set', 'a0', 'up');
  ip('-n', NS_PLAT, 'link', 'set', 'b0', 'up');
  ip('-n', NS_NET, 'route', 'add', '64:ff9b::/96', 'via', '2001:db8::2');
  ip('-n', NS_NET, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.2');
  // AF_XDP sees frames as sent: the kernel must fill in checksums rather than leave them partial.
  inNs(NS_NET, 'ethtool', '-K', 'a0', 'tx', 'off');

  const config = parsePlatConfig({
    device: 'b0',
    prefix: '64:ff9b::/96',
    pool4: ['198.51.100.0/24'],
    allowNonGlobalIpv4: true, // the server is a documentation address
    routes: false,
    stateDir,
  });
  port = openXdpPort({
    interfaceName: 'b0',
    netnsPath: `/run/netns/${NS_PLAT}`,
    pref64: [config.prefix],
    pool4: config.pool4,
  });
  const options: PlatQueueOptions = {
    translator: platTranslatorConfig(config),
    engine: natEngineConfig(config),
    icmpSource4: firstPoolAddress(config),
    stateDir: join(stateDir, 'state'),
    flushIntervalMs: config.flushIntervalMs,
    mtu4: config.mtu4,
    mtu6: config.mtu6,
    counters,
  };
  queues = await startXdpQueues({
    port,
    handlerModule: new URL('../src/plat-queue-handler.ts', import.meta.url),
    handlerOptions: options,
    netns: NS_PLAT,
    pollTimeoutMs: 20,
  });
});

afterAll(async () => {
  await queues?.stop().catch(() => {});
  port?.close();
  deleteNamespace(NS_NET);
  deleteNamespace(NS_PLAT);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('PLAT over AF_XDP', () => {
  it('translates a UDP exchange between an IPv6 client and an IPv4 server through the PREF64 and the pool', () => {
    const out = inNs(
      NS_NET,
      'python3',
      '-c',
      [
        'import socket',
        "srv=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(('192.0.2.1', 9999)); srv.settimeout(0.2)",
        "cli=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); cli.bind(('2001:db8::1', 0)); cli.settimeout(0.2)",
        'for _ in range(50):',
        "  cli.sendto(b'hello-plat', ('64:ff9b::c000:201', 9999))",
        '  try:',
        '    d,src=srv.recvfrom(100)',
        '  except socket.timeout:',
        '    continue',
        "  srv.sendto(b'reply:'+d, src)",
        '  try:',
        '    r,frm=cli.recvfrom(100)',
        '    print(src[0], r.decode(), frm[0], frm[1]); break',
        '  except socket.timeout:',
        '    pass',
      ].join('\n'),
    ).trim();
    const [seenSource, reply, replyFrom, replyPort] = out.split(' ');
    expect(seenSource).toMatch(/^198\.51\.100\.\d+$/); // the server saw a pool address
    expect(reply).toBe('reply:hello-plat');
    expect(replyFrom).toBe('64:ff9b::c000:201');
    expect(replyPort).toBe('9999');
  });

  it('carries an HTTP download over TCP (IPv6 client, IPv4 server) through the AF_XDP PLAT', async () => {
    const server = spawnInNs(NS_NET, [
      'python3',
      '-m',
      'http.server',
      '--bind',
      '192.0.2.1',
      '8080',
      '--directory',
      '/usr/share/common-licenses',
    ]);
    try {
      await sleep(500);
      let body = '';
      for (let attempt = 0; attempt < 10 && !body.includes('GNU GENERAL PUBLIC LICENSE'); attempt++) {
        try {
          body = inNs(NS_NET, 'curl', '-sS', '--max-time', '5', 'http://[64:ff9b::c000:201]:8080/GPL-3');
        } catch {
          await sleep(200);
        }
      }
      expect(body).toContain('GNU GENERAL PUBLIC LICENSE');
      expect(body.length).toBeGreaterThan(30_000); // many full-size segments each way
      await sleep(50);
      const stats = queues!.stats();
      expect(stats.packets).toBeGreaterThan(20);
      expect(stats.txPackets).toBeGreaterThan(20);
      expect(stats.handlerErrors).toBe(0);
      // Every packet came through the XDP program's redirect (the PLAT namespace does not forward).
      expect(port!.programStats().redirected).toBeGreaterThanOrEqual(stats.packets);
    } finally {
      await server.kill();
    }
  });
});
