// Real-kernel tests of the TUN addon: opening devices inside a fresh namespace, batched reads and
// writes of real traffic, multi-queue, and the errors a caller sees. Run as root; namespaces are
// named x64t-* and removed in afterAll even when a test fails.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadNative,
  openTun,
  TUN_PACKET_MAX_BYTES,
  type TunDevice,
  TunError,
  TunErrorCode,
} from '../src/index.js';
import { createNamespace, deleteNamespace, inNs, ip, spawnInNs } from './netns.js';

const NS = 'x64t-tun';
let nsPath = '';
const devices: TunDevice[] = [];

beforeAll(() => {
  nsPath = createNamespace(NS);
});

afterAll(() => {
  for (const d of devices) d.close();
  deleteNamespace(NS);
});

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

describe('libs/tun addon on a real kernel', () => {
  it('reads a ping echo request from the TUN device and a crafted echo reply written back makes ping succeed', async () => {
    const tun = openTun({ name: 'x64t-p0', netnsPath: nsPath });
    devices.push(tun);
    expect(tun.name).toBe('x64t-p0');
    expect(tun.fds).toHaveLength(1);
    expect(tun.vnetHdrBytes).toBe(0);
    ip('-n', NS, 'addr', 'add', '192.0.2.1/24', 'dev', tun.name);
    ip('-n', NS, 'link', 'set', tun.name, 'up');

    const native = loadNative();
    const buffer = Buffer.alloc(1 << 18);
    const offsets = new Uint32Array(16);
    const lengths = new Uint32Array(16);
    const ping = spawnInNs(NS, ['ping', '-c', '1', '-W', '10', '192.0.2.2']);
    let requests = 0;
    try {
      for (let attempt = 0; attempt < 200 && requests === 0; attempt++) {
        const count = native.readBatch(tun.fds[0], buffer, offsets, lengths, 16, 50, TUN_PACKET_MAX_BYTES);
        for (let i = 0; i < count; i++) {
          const o = offsets[i];
          const ihl = (buffer[o] & 0x0f) * 4;
          // IPv4, ICMP, echo request to 192.0.2.2 (the kernel may also send other packets: skip them).
          if (buffer[o] >> 4 !== 4 || buffer[o + 9] !== 1 || buffer[o + ihl] !== 8) continue;
          expect([...buffer.subarray(o + 16, o + 20)]).toEqual([192, 0, 2, 2]);
          const src = Buffer.from(buffer.subarray(o + 12, o + 16));
          buffer.copy(buffer, o + 12, o + 16, o + 20);
          src.copy(buffer, o + 16);
          buffer[o + ihl] = 0; // echo reply
          buffer[o + ihl + 2] = 0;
          buffer[o + ihl + 3] = 0;
          const sum = checksum(buffer, o + ihl, o + lengths[i]);
          buffer[o + ihl + 2] = sum >> 8;
          buffer[o + ihl + 3] = sum & 0xff;
          offsets[0] = o;
          lengths[0] = lengths[i];
          expect(native.writeBatch(tun.fds[0], buffer, offsets, lengths, 1)).toBe(1);
          requests++;
          break;
        }
        await sleep(0);
      }
      const result = await ping.exit;
      expect(requests).toBe(1);
      expect(result.stdout).toContain('1 received');
      expect(result.code).toBe(0);
    } finally {
      await ping.kill();
    }
  });

  it('opens a multi-queue device with two queues, both of which accept writes', () => {
    const tun = openTun({ name: 'x64t-mq', queues: 2, netnsPath: nsPath });
    devices.push(tun);
    expect(tun.fds).toHaveLength(2);
    expect(tun.fds[0]).not.toBe(tun.fds[1]);
    const details = ip('-d', '-n', NS, 'link', 'show', 'x64t-mq');
    expect(details).toMatch(/multi_queue/);
    expect(details).toMatch(/numqueues 2/);
    ip('-n', NS, 'addr', 'add', '198.51.100.1/24', 'dev', tun.name);
    ip('-n', NS, 'link', 'set', tun.name, 'up');
    // A minimal IPv4/UDP packet to the device's own address: the kernel takes it from either queue.
    const packet = Buffer.from('450000200000400040110000c6336402c633640104d204d2000c000061626364', 'hex');
    packet.writeUInt16BE(checksum(packet, 0, 20), 10);
    const native = loadNative();
    for (const fd of tun.fds) {
      expect(native.writeBatch(fd, packet, Uint32Array.of(0), Uint32Array.of(packet.length), 1)).toBe(1);
    }
    const rx = JSON.parse(ip('-j', '-s', '-n', NS, 'link', 'show', 'x64t-mq'))[0].stats64.rx.packets;
    expect(rx).toBe(2);
  });

  it('negotiates offloads on a vnet-header device and reports what the kernel accepted', () => {
    const tun = openTun({ name: 'x64t-vh', vnetHdr: true, netnsPath: nsPath });
    devices.push(tun);
    expect(tun.vnetHdrBytes).toBe(10);
    // Every kernel since 2.6.27 has checksum and TCP segmentation offload on TUN.
    expect(tun.offloadNames).toEqual(expect.arrayContaining(['csum', 'tso4', 'tso6']));
    const features = inNs(NS, 'ethtool', '-k', 'x64t-vh');
    expect(features).toMatch(/tcp-segmentation-offload: on/);
  });

  it('attaching a non-multi-queue open to a multi-queue device fails with a typed error naming the device', () => {
    let caught: unknown;
    try {
      openTun({ name: 'x64t-mq', queues: 1, multiQueue: false, netnsPath: nsPath });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TunError);
    expect((caught as TunError).code).toBe(TunErrorCode.open);
    expect((caught as TunError).errnoName).toBe('EINVAL');
    expect((caught as TunError).message).toContain('x64t-mq');
  });

  it('opening in a namespace that does not exist fails with ENOENT and says how to create it', () => {
    expect(() => openTun({ name: 'x64t-none', netnsPath: '/run/netns/x64t-does-not-exist' })).toThrow(
      /ENOENT.*ip netns add/,
    );
  });

  it('a read also ends when its socketFd becomes readable (-2), leaves it unread, and a wake comes first', () => {
    // The socket stand-in is an eventfd: readable once written, and nothing but the test reads it.
    const tun = openTun({ name: 'x64t-sk', netnsPath: nsPath });
    devices.push(tun);
    const native = loadNative();
    const socket = native.createWakeFd();
    const wake = native.createWakeFd();
    const read = (timeoutMs: number) => {
      const started = performance.now();
      const count = native.readBatch(
        tun.fds[0],
        Buffer.alloc(TUN_PACKET_MAX_BYTES),
        new Uint32Array(1),
        new Uint32Array(1),
        1,
        timeoutMs,
        TUN_PACKET_MAX_BYTES,
        0,
        wake,
        socket,
      );
      return { count, ms: performance.now() - started };
    };
    try {
      const idle = read(60);
      expect(idle.count, 'nothing readable: a timeout').toBe(0);
      expect(idle.ms).toBeGreaterThanOrEqual(50);
      native.wake(socket);
      const first = read(5000);
      expect(first.count).toBe(-2);
      expect(first.ms, 'returned at once, not at the timeout').toBeLessThan(1000);
      expect(read(5000).count, 'the socket was left for its reader').toBe(-2);
      native.wake(wake);
      expect(read(5000).count, 'a wake is reported (and reset) before the socket').toBe(-1);
      expect(read(5000).count).toBe(-2);
    } finally {
      native.close(socket);
      native.close(wake);
    }
  });

  it('a read on a closed queue throws EBADF instead of returning an empty batch', () => {
    const tun = openTun({ name: 'x64t-cl', netnsPath: nsPath });
    const fd = tun.fds[0];
    tun.close();
    const native = loadNative();
    expect(() =>
      native.readBatch(
        fd,
        Buffer.alloc(TUN_PACKET_MAX_BYTES),
        new Uint32Array(1),
        new Uint32Array(1),
        1,
        10,
        TUN_PACKET_MAX_BYTES,
      ),
    ).toThrow(/EBADF/);
  });
});
