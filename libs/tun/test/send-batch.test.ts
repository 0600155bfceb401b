// The addon's batched UDP send (sendmmsg) and receive (recvmmsg; read end to end in
// services/cluster/test/fabric.test.ts) used by the cluster fabric, on loopback: datagrams to IPv4 and
// IPv6 addresses arrive in order with their bytes; a datagram the kernel refuses (too big for UDP) is
// skipped and counted, the rest still go; bad arguments are refused with a message.
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNative } from '../src/index.js';

const native = loadNative();
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.close();
});

async function receiver(type: 'udp4' | 'udp6', host: string): Promise<{ port: number; got: Buffer[] }> {
  const socket = createSocket(type);
  sockets.push(socket);
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  return { port: socket.address().port, got };
}

async function sender(): Promise<number> {
  const socket = createSocket('udp6'); // a dual-stack socket reaches IPv4 through v4-mapped addresses too
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '::', () => resolve()));
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  expect(fd).toBeGreaterThan(2);
  return fd;
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('libs/tun sendBatch (sendmmsg) and udpAddress', () => {
  it('sends datagrams to IPv6 and IPv4 peers in order; a refused one is counted and skipped', async () => {
    const six = await receiver('udp6', '::1');
    const fd = await sender();
    const addresses = new Uint8Array(2 * 32);
    expect(native.udpAddress('::1', six.port, addresses, 0)).toBe(28);
    // The sender is an IPv6 socket: IPv4 peers are reached as v4-mapped addresses.
    const four = await receiver('udp4', '127.0.0.1');
    expect(native.udpAddress('::ffff:127.0.0.1', four.port, addresses, 32)).toBe(28);
    const v4only = new Uint8Array(32);
    expect(native.udpAddress('127.0.0.1', four.port, v4only, 0)).toBe(16);
    expect([v4only[0] | (v4only[1] << 8), (v4only[2] << 8) | v4only[3]]).toEqual([2, four.port]); // AF_INET
    const buffer = Buffer.alloc(200_000);
    const count = 70; // more than one sendmmsg chunk (64)
    const offsets = new Uint32Array(count);
    const lengths = new Uint32Array(count);
    const peerOf = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      offsets[i] = i * 100;
      lengths[i] = 10 + (i % 7);
      buffer.fill(i, offsets[i], offsets[i] + lengths[i]);
      peerOf[i] = i % 2;
    }
    lengths[5] = 70_000; // over UDP's 65,507 bytes: EMSGSIZE
    offsets[5] = 100_000;
    const errors = new Int32Array(1);
    expect(native.sendBatch(fd, buffer, offsets, lengths, count, peerOf, addresses, errors)).toBe(count);
    expect(errors[0]).toBe(1);
    await until(() => six.got.length + four.got.length === count - 1);
    const expected = (peer: number) =>
      [...Array(count).keys()]
        .filter((i) => i % 2 === peer && i !== 5)
        .map((i) => [...buffer.subarray(offsets[i], offsets[i] + lengths[i])]);
    expect(six.got.map((m) => [...m])).toEqual(expected(0));
    expect(four.got.map((m) => [...m])).toEqual(expected(1));
  });

  it('refuses bad arguments with a message', () => {
    const out = new Uint8Array(32);
    expect(() => native.udpAddress('not-an-address', 1, out, 0)).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => native.udpAddress('::1', 70_000, out, 0)).toThrow(/port 0\.\.65535/);
    expect(() => native.udpAddress('::1', 1, out, 8)).toThrow(/room for the address/);
    const one = Uint32Array.of(0);
    expect(() =>
      native.sendBatch(
        0,
        Buffer.alloc(8),
        one,
        Uint32Array.of(4),
        1,
        Int32Array.of(3),
        out,
        new Int32Array(1),
      ),
    ).toThrow(/peerOf names no address/);
    expect(() =>
      native.sendBatch(
        0,
        Buffer.alloc(8),
        one,
        Uint32Array.of(4),
        2,
        Int32Array.of(0),
        out,
        new Int32Array(1),
      ),
    ).toThrow(/count exceeds/);
    expect(() =>
      native.sendBatch(
        0,
        Buffer.alloc(8),
        one,
        Uint32Array.of(40),
        1,
        Int32Array.of(0),
        out,
        new Int32Array(1),
      ),
    ).toThrow(/outside the buffer/);
    expect(() =>
      native.recvBatch(0, Buffer.alloc(65 * 100), 100, 65, new Uint32Array(65), new Uint8Array(65 * 32)),
    ).toThrow(/at most 64/);
    expect(() =>
      native.recvBatch(0, Buffer.alloc(100), 100, 2, new Uint32Array(2), new Uint8Array(64)),
    ).toThrow(/must fit buffer/);
  });
});
