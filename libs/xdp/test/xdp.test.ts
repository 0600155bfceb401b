// Real-kernel tests of libs/xdp on a veth pair between two namespaces created here (x64t-*, removed in
// afterAll even when a test fails): what the XDP program steers to the AF_XDP socket and what it leaves
// to the kernel, frames sent from JavaScript (zero copy and copied) with next-hop MACs from the
// kernel's neighbour table, and a clean interface after close, after a failed open and after a crash.
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fewestCollections } from '../../../test/support/collections.js';
import { createNamespace, deleteNamespace, inNs, ip, spawnInNs } from '../../tun/test/netns.js';
import { parseIpv6Address } from '../../xlat/src/index.js';
import {
  attachedProgram,
  ETHERNET_HEADER_BYTES,
  EthernetBatchWriter,
  EtherType,
  formatMac,
  NeighbourTable,
  openXdpPort,
  readEtherType,
  startXdpQueues,
  writeEthernetHeader,
  XdpError,
  XdpErrorCode,
  type XdpPort,
} from '../src/index.js';

const NS_PEER = `x64t-xdpp-${process.pid}`;
const NS_NODE = `x64t-xdpn-${process.pid}`;
const NODE_NS_PATH = `/run/netns/${NS_NODE}`;
const ports: XdpPort[] = [];
let peerMac = '';
let nodeMac = '';

function open(extra: Partial<Parameters<typeof openXdpPort>[0]> = {}): XdpPort {
  const port = openXdpPort({
    interfaceName: 'b0',
    netnsPath: NODE_NS_PATH,
    pool4: ['198.51.100.0/24'],
    pref64: ['64:ff9b::/96'],
    ...extra,
  });
  ports.push(port);
  return port;
}

beforeAll(() => {
  createNamespace(NS_PEER);
  createNamespace(NS_NODE);
  // One queue each way, so every frame arrives on queue 0.
  ip(
    '-n',
    NS_PEER,
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
    NS_NODE,
    'numtxqueues',
    '1',
    'numrxqueues',
    '1',
  );
  ip('-n', NS_PEER, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
  ip('-n', NS_PEER, 'addr', 'add', '2001:db8::1/64', 'dev', 'a0', 'nodad');
  ip('-n', NS_NODE, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
  ip('-n', NS_NODE, 'addr', 'add', '2001:db8::2/64', 'dev', 'b0', 'nodad');
  ip('-n', NS_PEER, 'link', 'set', 'a0', 'up');
  ip('-n', NS_NODE, 'link', 'set', 'b0', 'up');
  ip('-n', NS_PEER, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.2');
  ip('-n', NS_PEER, 'route', 'add', '64:ff9b::/96', 'via', '2001:db8::2');
  // A route through a gateway on the node: its next hop is the peer.
  ip('-n', NS_NODE, 'route', 'add', '203.0.113.0/24', 'via', '192.0.2.1');
  // The peer computes full checksums, so a reflected frame is still valid.
  inNs(NS_PEER, 'ethtool', '-K', 'a0', 'tx', 'off');
  peerMac = JSON.parse(ip('-j', '-n', NS_PEER, 'link', 'show', 'a0'))[0].address;
  nodeMac = JSON.parse(ip('-j', '-n', NS_NODE, 'link', 'show', 'b0'))[0].address;
});

function closeAll(): void {
  for (const port of ports.splice(0)) {
    try {
      port.close();
    } catch {}
  }
}

afterEach(closeAll);

afterAll(() => {
  closeAll();
  deleteNamespace(NS_PEER);
  deleteNamespace(NS_NODE);
});

/** Sockets this process holds (an AF_XDP socket is one). */
function openSockets(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count++;
    } catch {}
  }
  return count;
}

const py = (code: string) => ['python3', '-c', code];

/** Sends one UDP datagram per (address, port, text) from the peer. */
function sendFromPeer(datagrams: [string, number, string][]): void {
  const lines = datagrams.map(
    ([address, port, text]) =>
      `s=socket.socket(socket.AF_INET6 if ':' in '${address}' else socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'${text}', ('${address}', ${port}))`,
  );
  inNs(NS_PEER, ...py(['import socket', ...lines].join('\n')));
}

/** Receives from queue 0 until `done` or ~10 s; returns every frame seen, as hex. */
async function receiveFrames(port: XdpPort, done: (frames: Buffer[]) => boolean): Promise<Buffer[]> {
  const umem = port.umem(0);
  const offsets = new Uint32Array(64);
  const lengths = new Uint32Array(64);
  const frames: Buffer[] = [];
  for (let i = 0; i < 200 && !done(frames); i++) {
    const n = port.native.receive(port.handle, 0, offsets, lengths, 64, 50);
    for (let k = 0; k < n; k++) frames.push(Buffer.from(umem.subarray(offsets[k], offsets[k] + lengths[k])));
    await sleep(0);
  }
  return frames;
}

function checksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

describe('libs/xdp on a veth pair', () => {
  it('refuses bad configuration naming the field and the fix, before touching the kernel', () => {
    const attempt = (options: Partial<Parameters<typeof openXdpPort>[0]>) => {
      try {
        openXdpPort({ interfaceName: 'b0', pool4: ['198.51.100.0/24'], pref64: [], ...options });
      } catch (error) {
        return error as XdpError;
      }
      throw new Error('accepted');
    };
    const badPrefix = attempt({ pref64: ['64:ff9b::1/96'] });
    expect(badPrefix).toBeInstanceOf(XdpError);
    expect(badPrefix.code).toBe(XdpErrorCode.invalidOptions);
    expect(badPrefix.message).toMatch(/pref64\[0\].*write '64:ff9b::\/96'/);
    expect(attempt({ pool4: ['198.51.100.0/33'] }).message).toMatch(/pool4\[0\].*0 to 32/);
    expect(attempt({ pool4: [] }).message).toMatch(/nothing would be redirected/);
    expect(attempt({ frameSizeBytes: 1000 as 2048 }).message).toMatch(/frameSizeBytes must be 2048 or 4096/);
  });

  it('redirects IPv6 to the PREF64 and IPv4 to the pool into the socket, and JavaScript reads their bytes in the UMEM', async () => {
    const port = open();
    expect(port.mode).toBe('native'); // veth runs XDP in its driver
    // ... but has no AF_XDP zero-copy: the zero-copy bind was asked for, refused, and copy mode used.
    expect(port.zeroCopy).toBe(false);
    expect(port.zeroCopyRefused).toBe('EOPNOTSUPP');
    expect(attachedProgram('b0', NODE_NS_PATH)).toMatchObject({ name: 'xlat64_xdp', mode: 'native' });
    sendFromPeer([
      ['198.51.100.7', 5000, 'to-the-pool'],
      ['64:ff9b::198.51.100.7', 5001, 'to-the-pref64'],
    ]);
    const frames = await receiveFrames(port, (f) => f.length >= 2);
    const v4 = frames.find((f) => readEtherType(f, 0) === EtherType.ipv4);
    const v6 = frames.find((f) => readEtherType(f, 0) === EtherType.ipv6);
    expect(v4 && v6).toBeTruthy();
    for (const frame of [v4!, v6!]) {
      expect(formatMac(frame, 0)).toBe(nodeMac);
      expect(formatMac(frame, 6)).toBe(peerMac);
    }
    expect([...v4!.subarray(14 + 16, 14 + 20)]).toEqual([198, 51, 100, 7]);
    expect(v4!.toString('latin1')).toContain('to-the-pool');
    expect([...v6!.subarray(14 + 24, 14 + 40)]).toEqual([...parseIpv6Address('64:ff9b::c633:6407')!]);
    expect(v6!.toString('latin1')).toContain('to-the-pref64');
    expect(port.programStats().redirected).toBeGreaterThanOrEqual(2);
    port.close();
  });

  it('leaves ARP, NDP and traffic to the node itself to the kernel while the socket is bound', async () => {
    const port = open();
    ip('-n', NS_PEER, 'neigh', 'flush', 'dev', 'a0'); // so the pings must resolve through ARP and NDP
    const before = port.programStats();
    const ping4 = spawnInNs(NS_PEER, ['ping', '-c', '2', '-i', '0.2', '-W', '5', '192.0.2.2']);
    const ping6 = spawnInNs(NS_PEER, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '5', '2001:db8::2']);
    const seen: Buffer[] = [];
    let exited = 0;
    void ping4.exit.then(() => exited++);
    void ping6.exit.then(() => exited++);
    seen.push(...(await receiveFrames(port, () => exited === 2)));
    const [r4, r6] = [await ping4.exit, await ping6.exit];
    expect(r4.stdout).toContain('2 received');
    expect(r6.stdout).toContain('2 received');
    expect(seen).toEqual([]); // nothing of it reached the socket
    const after = port.programStats();
    // Echo requests, ARP and neighbour solicitations: at least 2 + 2 + 1 + 1 frames passed.
    expect(after.passed - before.passed).toBeGreaterThanOrEqual(6);
    expect(after.redirected).toBe(before.redirected);
    port.close();
  });

  it('reflects a received frame in place (zero copy) and the peer receives it back', async () => {
    const port = open();
    const receiver = spawnInNs(NS_PEER, [
      'python3',
      '-c',
      "import socket\ns=socket.socket(); s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10); s.bind(('192.0.2.1', 7000))\n" +
        "s.sendto(b'echo-me', ('198.51.100.9', 7))\nd,a=s.recvfrom(100); print(d.decode(), a[0], a[1])",
    ]);
    const umem = port.umem(0);
    const offsets = new Uint32Array(64);
    const lengths = new Uint32Array(64);
    let reflected = 0;
    for (let i = 0; i < 200 && reflected === 0; i++) {
      const n = port.native.receive(port.handle, 0, offsets, lengths, 64, 50);
      for (let k = 0; k < n; k++) {
        const o = offsets[k];
        if (readEtherType(umem, o) !== EtherType.ipv4 || umem[o + 14 + 9] !== 17) continue;
        // Swap MACs, IPv4 addresses and UDP ports: every checksum stays valid.
        const f = umem.subarray(o, o + lengths[k]);
        const swap = (a: number, b: number, n: number) => {
          for (let j = 0; j < n; j++) [f[a + j], f[b + j]] = [f[b + j], f[a + j]];
        };
        swap(0, 6, 6);
        swap(14 + 12, 14 + 16, 4);
        swap(14 + 20, 14 + 22, 2);
        offsets[0] = o;
        lengths[0] = lengths[k];
        expect(port.native.send(port.handle, 0, offsets, lengths, 1)).toBe(1);
        reflected++;
        break;
      }
      await sleep(0);
    }
    const result = await receiver.exit;
    expect(reflected).toBe(1);
    expect(result.stdout.trim()).toBe('echo-me 198.51.100.9 7');
    // A frame the handler does not hold is refused, not sent.
    offsets[0] = 0;
    lengths[0] = 60;
    expect(port.native.send(port.handle, 0, offsets, lengths, 1)).toBe(0);
    expect(port.queueStats(0).txRefused).toBe(1);
    port.close();
  });

  it('writes frames built in JavaScript with next-hop MACs from the kernel neighbour table (on-link, via a gateway, IPv6)', async () => {
    const port = open();
    const neighbours = new NeighbourTable({ interfaceName: 'b0', netns: NS_NODE, refreshMinIntervalMs: 0 });
    ip('-n', NS_NODE, 'neigh', 'flush', 'dev', 'b0');
    neighbours.refresh();
    expect(formatMac(neighbours.localMac)).toBe(nodeMac);
    const listener = spawnInNs(NS_PEER, [
      'python3',
      '-c',
      'import socket\n' +
        "a=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('0.0.0.0', 9100))\n" +
        "b=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); b.bind(('::', 9106))\n" +
        "print('ready', flush=True)\n" +
        'a.settimeout(15); b.settimeout(15)\nprint(a.recvfrom(100)[0].decode(), flush=True)\nprint(b.recvfrom(100)[0].decode(), flush=True)',
    ]);
    try {
      for (let i = 0; i < 200 && !listener.stdout().includes('ready'); i++) await sleep(25);
      const mac = new Uint8Array(6);
      // The first lookup misses (the node never talked to the peer); maintain() asks the kernel to
      // resolve it, and a later lookup finds the MAC.
      expect(neighbours.findIpv4(0xc0000201, mac, 0)).toBe(false);
      for (let i = 0; i < 100 && !neighbours.findIpv4(0xc0000201, mac, 0); i++) {
        neighbours.maintain();
        await sleep(20);
      }
      expect(formatMac(mac)).toBe(peerMac);
      // 203.0.113.9 is behind the gateway 192.0.2.1: its next hop is the peer too.
      const viaGateway = new Uint8Array(6);
      expect(neighbours.findIpv4(0xcb007109, viaGateway, 0)).toBe(true);
      expect(formatMac(viaGateway)).toBe(peerMac);
      const peer6 = parseIpv6Address('2001:db8::1')!;
      const mac6 = new Uint8Array(6);
      for (let i = 0; i < 100 && !neighbours.findIpv6(peer6, 0, mac6, 0); i++) {
        neighbours.maintain();
        await sleep(20);
      }
      expect(formatMac(mac6)).toBe(peerMac);

      // One IPv4 and one IPv6 UDP datagram, built in a plain Buffer and copied into frames by write().
      const out = Buffer.alloc(512);
      // IPv4 header: 36 bytes total, DF, TTL 64, UDP, 198.51.100.9 -> 192.0.2.1.
      const v4 = Buffer.from('450000240000400040110000c6336409c0000201', 'hex');
      writeEthernetHeader(out, 0, mac, 0, neighbours.localMac, 0, EtherType.ipv4);
      v4.copy(out, 14);
      out.writeUInt16BE(~checksum(out, 14, 34) & 0xffff, 24);
      out.writeUInt16BE(4242, 34);
      out.writeUInt16BE(9100, 36);
      out.writeUInt16BE(16, 38); // UDP length; checksum 0 = none (IPv4)
      out.write('from-xsk', 42, 'latin1');
      const v6At = 256;
      writeEthernetHeader(out, v6At, mac6, 0, neighbours.localMac, 0, EtherType.ipv6);
      const h = v6At + ETHERNET_HEADER_BYTES;
      out.writeUInt32BE(0x60000000, h);
      out.writeUInt16BE(17, h + 4); // payload length
      out[h + 6] = 17;
      out[h + 7] = 64;
      out.set(parseIpv6Address('64:ff9b::c633:6409')!, h + 8);
      out.set(peer6, h + 24);
      out.writeUInt16BE(4243, h + 40);
      out.writeUInt16BE(9106, h + 42);
      out.writeUInt16BE(17, h + 44);
      out.write('from-xsk6', h + 48, 'latin1');
      out.writeUInt16BE(0, h + 46);
      const sum = ~checksum(out, h + 40, h + 57, checksum(out, h + 8, h + 40) + 17 + 17) & 0xffff;
      out.writeUInt16BE(sum === 0 ? 0xffff : sum, h + 46);
      const offsets = Uint32Array.of(0, v6At);
      const lengths = Uint32Array.of(14 + 20 + 16, 14 + 40 + 17);
      expect(port.native.write(port.handle, 0, out, offsets, lengths, 2)).toBe(2);
      const result = await listener.exit;
      expect(result.stdout).toContain('from-xsk\n');
      expect(result.stdout).toContain('from-xsk6');
      expect(neighbours.stats.resolutions).toBeGreaterThanOrEqual(2);
    } finally {
      await listener.kill();
      neighbours.close();
    }
    // The managed entries it added are gone again.
    expect(ip('-n', NS_NODE, 'neigh', 'show', 'dev', 'b0')).not.toMatch(/managed/);
    port.close();
  });

  it('applies neighbour changes from rtnetlink entry by entry (new MAC, deletion, failure) without re-reading the tables', async () => {
    const neighbours = new NeighbourTable({ interfaceName: 'b0', netns: NS_NODE, watchIntervalMs: 0 });
    try {
      ip('-n', NS_NODE, 'neigh', 'replace', '192.0.2.77', 'lladdr', '02:00:00:00:00:01', 'dev', 'b0');
      neighbours.refresh();
      const refreshes = neighbours.stats.refreshes;
      const mac = new Uint8Array(6);
      const lookup = () => (neighbours.findIpv4(0xc000024d, mac, 0) ? formatMac(mac) : 'miss');
      expect(lookup()).toBe('02:00:00:00:00:01');
      const settle = async (expected: string) => {
        for (let i = 0; i < 100 && lookup() !== expected; i++) {
          neighbours.maintain();
          await sleep(10);
        }
        return lookup();
      };
      ip('-n', NS_NODE, 'neigh', 'replace', '192.0.2.77', 'lladdr', '02:00:00:00:00:02', 'dev', 'b0');
      expect(await settle('02:00:00:00:00:02')).toBe('02:00:00:00:00:02');
      ip('-n', NS_NODE, 'neigh', 'replace', '2001:db8::77', 'lladdr', '02:00:00:00:00:06', 'dev', 'b0');
      const mac6 = new Uint8Array(6);
      for (let i = 0; i < 100 && !neighbours.findIpv6(parseIpv6Address('2001:db8::77')!, 0, mac6, 0); i++) {
        neighbours.maintain();
        await sleep(10);
      }
      expect(formatMac(mac6)).toBe('02:00:00:00:00:06');
      ip('-n', NS_NODE, 'neigh', 'del', '192.0.2.77', 'dev', 'b0');
      expect(await settle('miss')).toBe('miss');
      expect(neighbours.stats.changes).toBeGreaterThanOrEqual(3);
      expect(neighbours.stats.refreshes).toBe(refreshes); // no `ip` re-read: the notifications sufficed
    } finally {
      neighbours.close();
    }
  });

  it("follows the interface's MTU: a change (ip link set mtu) arrives through rtnetlink and the next maintain() reads it", async () => {
    // Proves what the PLAT on AF_XDP checks its output against (it is the router: no kernel forwarding
    // after it answers Packet Too Big) is the link's MTU now, not the one at start.
    const neighbours = new NeighbourTable({ interfaceName: 'b0', netns: NS_NODE, refreshMinIntervalMs: 0 });
    try {
      neighbours.refresh();
      expect(neighbours.mtu).toBeGreaterThanOrEqual(1280);
      const original = neighbours.mtu;
      ip('-n', NS_NODE, 'link', 'set', 'b0', 'mtu', '1400');
      for (let i = 0; i < 100 && neighbours.mtu !== 1400; i++) {
        neighbours.maintain();
        await sleep(20);
      }
      expect(neighbours.mtu).toBe(1400);
      ip('-n', NS_NODE, 'link', 'set', 'b0', 'mtu', String(original));
      for (let i = 0; i < 100 && neighbours.mtu !== original; i++) {
        neighbours.maintain();
        await sleep(20);
      }
      expect(neighbours.mtu).toBe(original);
    } finally {
      neighbours.close();
    }
  });

  it('runs a batch handler written for TUN queues unchanged on an XDP queue: Ethernet stripped on the way in, added with neighbour MACs on the way out', async () => {
    const port = open();
    const set = await startXdpQueues({
      port,
      handlerModule: new URL('./fixtures/reflect-handler.ts', import.meta.url),
      netns: NS_NODE,
      pollTimeoutMs: 20,
    });
    try {
      // The client retries until answered: the first reply may wait for the node's neighbour entry.
      const client = (family: string, address: string, bind: string) =>
        inNs(
          NS_PEER,
          ...py(
            `import socket\ns=socket.socket(socket.${family}, socket.SOCK_DGRAM); s.bind(('${bind}', 7001)); s.settimeout(0.2)\n` +
              `for _ in range(50):\n  s.sendto(b'ping-through-xdp', ('${address}', 7))\n  try:\n    d,a=s.recvfrom(100); print(d.decode(), a[0], a[1]); break\n  except socket.timeout: pass`,
          ),
        ).trim();
      expect(client('AF_INET', '198.51.100.9', '192.0.2.1')).toBe('ping-through-xdp 198.51.100.9 7');
      expect(client('AF_INET6', '64:ff9b::c633:6409', '2001:db8::1')).toBe(
        'ping-through-xdp 64:ff9b::c633:6409 7',
      );
      await sleep(50); // stats are published after each batch
      const stats = set.stats();
      expect(stats.packets).toBeGreaterThanOrEqual(2);
      expect(stats.txPackets).toBeGreaterThanOrEqual(2);
      expect(stats.notIp).toBe(0);
      expect(stats.handlerErrors).toBe(0);
    } finally {
      await set.stop();
    }
    port.close();
  });

  it("answers its event loop's I/O at once while the queue is idle, and still runs onIdle every poll timeout", async () => {
    const shared = new SharedArrayBuffer(4);
    const idleCalls = new Int32Array(shared);
    const handlerModule = new URL('../../tun/test/fixtures/echo-port-handler.ts', import.meta.url);
    const port = open();
    const set = await startXdpQueues({
      port,
      handlerModule,
      handlerOptions: { shared },
      netns: NS_NODE,
      pollTimeoutMs: 3000,
    });
    try {
      const worker = set.ports[0];
      const trips: number[] = [];
      for (let n = 0; n < 5; n++) {
        const started = performance.now();
        const reply = new Promise<unknown>((resolve) => worker.once('message', resolve));
        worker.postMessage(n);
        expect(await reply).toEqual({ echo: n });
        trips.push(performance.now() - started);
      }
      // Without the loop's fd in the wait each message would be answered when the 3 s wait ends.
      expect(Math.max(...trips), `round trips ${trips.map((t) => t.toFixed(0)).join(', ')} ms`).toBeLessThan(
        1000,
      );
      expect(set.stats().loopWakes).toBeGreaterThanOrEqual(1);
    } finally {
      await set.stop();
    }
    port.close();

    const port2 = open();
    const busy = await startXdpQueues({
      port: port2,
      handlerModule,
      handlerOptions: { shared },
      netns: NS_NODE,
      pollTimeoutMs: 100,
    });
    try {
      Atomics.store(idleCalls, 0, 0);
      const worker = busy.ports[0];
      const until = performance.now() + 1500;
      let trips = 0;
      while (performance.now() < until) {
        const reply = new Promise<unknown>((resolve) => worker.once('message', resolve));
        worker.postMessage(trips++);
        await reply;
        await sleep(20);
      }
      expect(trips).toBeGreaterThan(20);
      // About 15 idle periods in 1.5 s; a wait restarted by every message would give none.
      expect(Atomics.load(idleCalls, 0)).toBeGreaterThanOrEqual(5);
    } finally {
      await busy.stop();
    }
    port2.close();
  });

  it('the send and receive path allocates nothing: 4,000,000 next-hop lookups, then 2,000 batches of 64 Ethernet writes and receives, without a garbage collection', async () => {
    const port = open();
    const neighbours = new NeighbourTable({ interfaceName: 'b0', netns: NS_NODE });
    ip('-n', NS_NODE, 'neigh', 'replace', '192.0.2.1', 'lladdr', peerMac, 'dev', 'b0');
    ip('-n', NS_NODE, 'neigh', 'replace', '2001:db8::1', 'lladdr', peerMac, 'dev', 'b0');
    neighbours.refresh();
    const writer = new EthernetBatchWriter(port.native, { handle: port.handle, queue: 0, neighbours });
    const out = Buffer.alloc(64 * 128);
    const offsets = new Uint32Array(64);
    const lengths = new Uint32Array(64);
    for (let i = 0; i < 64; i++) {
      const at = i * 128;
      offsets[i] = at;
      if (i % 2 === 0) {
        // IPv4/UDP 198.51.100.9 -> 192.0.2.1 (discard port: the peer drops it)
        out.set(Buffer.from('450000240000400040110000c6336409c0000201', 'hex'), at);
        out.writeUInt16BE(~checksum(out, at, at + 20) & 0xffff, at + 10);
        out.writeUInt16BE(9, at + 22);
        out.writeUInt16BE(16, at + 24);
        lengths[i] = 36;
      } else {
        out.writeUInt32BE(0x60000000, at);
        out.writeUInt16BE(8, at + 4);
        out[at + 6] = 17;
        out[at + 7] = 64;
        out.set(parseIpv6Address('64:ff9b::c633:6409')!, at + 8);
        out.set(parseIpv6Address('2001:db8::1')!, at + 24);
        lengths[i] = 48;
      }
    }
    const rxOffsets = new Uint32Array(64);
    const rxLengths = new Uint32Array(64);
    const round = () => {
      let sent = 0;
      for (let r = 0; r < 2000; r++) {
        sent += writer.writeBatch(0, out, offsets, lengths, 64);
        port.native.receive(port.handle, 0, rxOffsets, rxLengths, 64, 0);
      }
      return sent;
    };
    // Lookups alone, many enough that one heap number each (16 bytes) would fill the young generation
    // several times over; 0 or 1 collection (one may already be due when the loop starts) shows none.
    const mac = new Uint8Array(6);
    const peer6 = parseIpv6Address('2001:db8::1')!;
    const lookups = () => {
      let found = 0;
      for (let i = 0; i < 2_000_000; i++) {
        if (neighbours.findIpv4(0xc0000201, mac, 0)) found++;
        if (neighbours.findIpv6(peer6, 0, mac, 0)) found++;
      }
      return found;
    };
    expect(lookups()).toBe(4_000_000);
    // The quietest of several runs, each after a full collection (the runner's own garbage and
    // background compilation under load show in one run; an allocating path collects in every run).
    expect(await fewestCollections(lookups)).toBe(0);
    expect(round()).toBeGreaterThan(0); // warm up (JIT, first frames)
    expect(await fewestCollections(round)).toBe(0);
    expect(writer.stats.neighbourMisses).toBe(0);
    port.close();
  });

  it('leaves nothing on the interface after close: no program, no AF_XDP socket', () => {
    const socketsBefore = openSockets();
    const port = open();
    expect(openSockets()).toBeGreaterThan(socketsBefore);
    expect(ip('-n', NS_NODE, '-d', 'link', 'show', 'b0')).toMatch(/prog\/xdp/);
    port.close();
    port.close(); // idempotent
    expect(attachedProgram('b0', NODE_NS_PATH)).toBeNull();
    expect(ip('-n', NS_NODE, '-d', 'link', 'show', 'b0')).not.toMatch(/prog\/xdp/);
    expect(openSockets()).toBe(socketsBefore);
    // The queue is free again: a socket bound to it would fail with EBUSY otherwise.
    open().close();
  });

  it('cleans up after a failed open: the program attached before the failure is detached again', () => {
    const socketsBefore = openSockets();
    let caught: unknown;
    try {
      open({ queues: 2 }); // b0 has one receive queue: the second socket cannot bind
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(XdpError);
    expect((caught as XdpError).code).toBe(XdpErrorCode.open);
    expect((caught as XdpError).message).toMatch(/b0 queue 1/);
    expect(attachedProgram('b0', NODE_NS_PATH)).toBeNull();
    expect(openSockets()).toBe(socketsBefore);
  });

  it('after a crash (SIGKILL) the program left on the interface is replaced at the next open', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/crash-holder.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, 'b0', NODE_NS_PATH], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d;
    });
    const exited = new Promise((resolve) => child.once('close', resolve));
    for (let i = 0; i < 600 && !output.includes('attached') && child.exitCode === null; i++) await sleep(25);
    expect(output).toContain('attached native');
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    expect(attachedProgram('b0', NODE_NS_PATH)).toMatchObject({ name: 'xlat64_xdp' });
    const port = open();
    expect(port.replacedStale).toBe(true);
    sendFromPeer([['198.51.100.7', 5000, 'after-crash']]);
    const frames = await receiveFrames(port, (f) => f.length >= 1);
    expect(frames.some((f) => f.toString('latin1').includes('after-crash'))).toBe(true);
    port.close();
    expect(attachedProgram('b0', NODE_NS_PATH)).toBeNull();
  });
});
