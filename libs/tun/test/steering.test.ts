// Queue steering on a real kernel: a two-queue TUN device in a fresh namespace puts every packet the
// kernel routes into it on the queue the loaded program names (all shards to queue 1, then all to queue
// 0), and back on the kernel's own choice after detach; a fd that is no TUN queue is refused with a typed
// error. Run as root; the namespace is x64t-steer, removed in afterAll even when a test fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadNative,
  openTun,
  TUN_PACKET_MAX_BYTES,
  type TunDevice,
  TunError,
  TunErrorCode,
  TunSteering,
} from '../src/index.js';
import { createNamespace, deleteNamespace, inNs, ip } from './netns.js';

const NS = 'x64t-steer';
const SHARDS = 16;
let nsPath = '';
let tun: TunDevice;
let steering: TunSteering;

beforeAll(() => {
  nsPath = createNamespace(NS);
  tun = openTun({ name: 'x64t-sq', queues: 2, netnsPath: nsPath });
  ip('-n', NS, 'addr', 'add', '2001:db8:5::1/64', 'dev', tun.name);
  ip('-n', NS, 'link', 'set', tun.name, 'up');
  steering = TunSteering.load(SHARDS, 64);
  // Every IPv6 source hashes to some shard; the test decides which queue all of them go to.
  steering.configure({
    shardCount: SHARDS,
    ipv6: { mask: [-1, -1, 0, 0], keys: [1, 2, 3, 4] },
    ipv4: null,
  });
});

afterAll(() => {
  try {
    TunSteering.detach(tun.fds[0]);
  } catch {
    // The device may be gone already.
  }
  steering?.close();
  tun?.close();
  deleteNamespace(NS);
});

/** Sends `count` UDP datagrams routed into the TUN, then counts what each queue holds. */
function perQueue(count: number): number[] {
  inNs(
    NS,
    'python3',
    '-c',
    `import socket\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b"x", ("2001:db8:5::2", 9000 + i))`,
  );
  const native = loadNative();
  const buffer = Buffer.alloc(1 << 18);
  const offsets = new Uint32Array(64);
  const lengths = new Uint32Array(64);
  return tun.fds.map((fd) => {
    let udp = 0;
    for (;;) {
      const n = native.readBatch(fd, buffer, offsets, lengths, 64, 20, TUN_PACKET_MAX_BYTES);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) if (buffer[offsets[i] + 6] === 17) udp++; // UDP only: not the kernel's MLD/ND
    }
    return udp;
  });
}

describe('TUN queue steering on a real two-queue device', () => {
  it('puts every packet on the queue the program names, and follows the map when it changes', () => {
    steering.attach(tun.fds[0]);
    for (let shard = 0; shard < SHARDS; shard++) steering.setShardQueue(shard, 1);
    expect(perQueue(40)).toEqual([0, 40]);
    for (let shard = 0; shard < SHARDS; shard++) steering.setShardQueue(shard, 0);
    expect(perQueue(40)).toEqual([40, 0]);
  });

  it('gives the queue choice back to the kernel after detach', () => {
    for (let shard = 0; shard < SHARDS; shard++) steering.setShardQueue(shard, 1);
    TunSteering.detach(tun.fds[0]);
    // 40 flows (one destination port each) over the kernel's own flow hash: both queues get some.
    const counts = perQueue(40);
    expect(counts[0] + counts[1]).toBe(40);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  it('refuses to attach to a fd that is no TUN queue, naming the call and the errno', () => {
    const eventFd = loadNative().createWakeFd();
    try {
      steering.attach(eventFd);
      expect.unreachable('attached to an eventfd');
    } catch (error) {
      expect(error).toBeInstanceOf(TunError);
      expect((error as TunError).code).toBe(TunErrorCode.configure);
      expect((error as TunError).message).toMatch(/TUNSETSTEERINGEBPF/);
      expect((error as TunError).errnoName).toMatch(/^E/);
    } finally {
      loadNative().close(eventFd);
    }
  });
});
