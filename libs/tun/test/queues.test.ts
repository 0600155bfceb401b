// Real-kernel tests of the per-queue worker threads: a caller's handler module runs in each queue's
// worker (from the .ts sources, through the tsx bootstrap), stop is prompt on an idle device, and
// with IFF_VNET_HDR + TUNSETOFFLOAD a TCP transfer reaches the handler as GSO super-packets.
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openTun,
  type QueueSet,
  startQueues,
  type TunDevice,
  TunError,
  TunErrorCode,
  VnetGso,
} from '../src/index.js';
import { type Child, createNamespace, deleteNamespace, ip, spawnInNs } from './netns.js';

const NS_A = 'x64t-qa';
const NS_B = 'x64t-qb';
const devices: TunDevice[] = [];
const queueSets: QueueSet[] = [];
const children: Child[] = [];
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

beforeAll(() => {
  createNamespace(NS_A);
  createNamespace(NS_B);
});

afterAll(async () => {
  for (const child of children) await child.kill();
  for (const set of queueSets) await set.stop().catch(() => {});
  for (const d of devices) d.close();
  deleteNamespace(NS_A);
  deleteNamespace(NS_B);
});

async function waitFor(condition: () => boolean, what: string, child?: Child): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline || child?.process.exitCode != null) {
      const detail = child ? ` (child exit ${child.process.exitCode}, stderr: ${child.stderr()})` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await sleep(20);
  }
}

describe('TUN queue workers', () => {
  it('runs the handler module in one worker per queue and stops promptly while every read is blocked on an idle device', async () => {
    const tun = openTun({ name: 'x64t-idle', queues: 2, netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun);
    const shared = new SharedArrayBuffer(4 * 4);
    const counters = new Int32Array(shared);
    const set = await startQueues({
      device: tun,
      handlerModule: fixture('idle-handler.ts'),
      handlerOptions: { shared },
      pollTimeoutMs: 50,
    });
    queueSets.push(set);
    expect(set.queues).toHaveLength(2);
    expect(Atomics.load(counters, 3)).toBe(2);
    // The device is down: no packet can arrive, so both workers sit in poll() between idle wake-ups.
    await waitFor(() => Atomics.load(counters, 0) >= 4, 'idle wake-ups');
    await set.stop();
    expect(set.queues.every((q) => q.exited())).toBe(true);
    expect(Atomics.load(counters, 2)).toBe(2);
    expect(Atomics.load(counters, 1)).toBe(0);
    expect(set.stats().idleWaits).toBeGreaterThan(0);
  });

  it("answers its event loop's I/O at once while the queue is idle, and still runs onIdle every poll timeout", async () => {
    const tun = openTun({ name: 'x64t-loop', netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun);
    const shared = new SharedArrayBuffer(4);
    const idleCalls = new Int32Array(shared);
    const set = await startQueues({
      device: tun,
      handlerModule: fixture('echo-port-handler.ts'),
      handlerOptions: { shared },
      pollTimeoutMs: 3000,
    });
    queueSets.push(set);
    const port = set.queues[0].port;
    const roundTrip = async (n: number): Promise<number> => {
      const started = performance.now();
      const reply = new Promise<unknown>((resolve) => port.once('message', resolve));
      port.postMessage(n);
      expect(await reply).toEqual({ echo: n });
      return performance.now() - started;
    };
    // The device is down: the worker waits in readBatch with a 3 s timeout. Without the loop's fd in
    // that wait, each message would be answered only when the wait ends (seconds each).
    const trips: number[] = [];
    for (let n = 0; n < 5; n++) trips.push(await roundTrip(n));
    expect(Math.max(...trips), `round trips ${trips.map((t) => t.toFixed(0)).join(', ')} ms`).toBeLessThan(
      1000,
    );
    // A message that comes while the worker is in its loop anyway needs no wake: most find it waiting.
    expect(set.stats().loopWakes, JSON.stringify(set.stats())).toBeGreaterThanOrEqual(1);
    await set.stop();

    // A loop kept busy more often than the poll timeout does not starve onIdle: a wait cut short by
    // the loop resumes until the idle period ends.
    const tun2 = openTun({ name: 'x64t-loop2', netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun2);
    Atomics.store(idleCalls, 0, 0);
    const busy = await startQueues({
      device: tun2,
      handlerModule: fixture('echo-port-handler.ts'),
      handlerOptions: { shared },
      pollTimeoutMs: 100,
    });
    queueSets.push(busy);
    const busyPort = busy.queues[0].port;
    const until = performance.now() + 1500;
    let trips2 = 0;
    while (performance.now() < until) {
      const reply = new Promise<unknown>((resolve) => busyPort.once('message', resolve));
      busyPort.postMessage(trips2++);
      await reply;
      await sleep(20);
    }
    expect(trips2).toBeGreaterThan(20);
    // About 15 idle periods in 1.5 s; a wait restarted by every message would give none.
    expect(Atomics.load(idleCalls, 0)).toBeGreaterThanOrEqual(5);
    await busy.stop();
  });

  it('spreads flows over the queues of a multi-queue device, each read by its own worker', async () => {
    const tun = openTun({ name: 'x64t-mq2', queues: 2, netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun);
    ip('-n', NS_A, 'addr', 'add', '203.0.113.1/24', 'dev', tun.name);
    ip('-n', NS_A, 'link', 'set', tun.name, 'up');
    const shared = new SharedArrayBuffer(4 * 4);
    const set = await startQueues({
      device: tun,
      handlerModule: fixture('idle-handler.ts'),
      handlerOptions: { shared },
      pollTimeoutMs: 50,
    });
    queueSets.push(set);
    // 32 UDP flows towards an address routed into the TUN: the kernel picks a queue per flow hash,
    // so with 32 flows both queues see traffic (all on one queue: probability 2^-31).
    const script = fileURLToPath(fixture('udp-flows.mjs'));
    const sender = spawnInNs(NS_A, [process.execPath, script, '203.0.113.9', '9', '32', '20']);
    children.push(sender);
    expect((await sender.exit).stdout).toContain('done');
    await waitFor(() => set.stats().packets >= 32 * 20, 'every datagram read');
    const perQueue = set.queues.map((q) => q.stats().packets);
    expect(perQueue[0]).toBeGreaterThan(0);
    expect(perQueue[1]).toBeGreaterThan(0);
    expect(set.queues[0].threadId).not.toBe(set.queues[1].threadId);
    await set.stop();
  });

  it('counts a handler that throws on every batch, reports it through onError, and keeps the queue reading', async () => {
    const tun = openTun({ name: 'x64t-thr', netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun);
    ip('-n', NS_A, 'addr', 'add', '198.51.100.1/24', 'dev', tun.name);
    ip('-n', NS_A, 'link', 'set', tun.name, 'up');
    const reported: TunError[] = [];
    const set = await startQueues({
      device: tun,
      handlerModule: fixture('throwing-handler.ts'),
      pollTimeoutMs: 50,
      onError: (error) => reported.push(error),
    });
    queueSets.push(set);
    // Nothing answers 198.51.100.9: each echo request lands in the TUN as a batch of its own.
    const ping = spawnInNs(NS_A, ['ping', '-c', '4', '-i', '0.2', '-W', '1', '198.51.100.9']);
    children.push(ping);
    await waitFor(() => set.stats().handlerErrors >= 2, 'two handler errors');
    await ping.kill();
    expect(reported.length).toBeGreaterThanOrEqual(2);
    expect(reported[0].code).toBe(TunErrorCode.workerFailed);
    expect(reported[0].message).toContain('boom from the test handler');
    expect(set.queues[0].exited()).toBe(false);
    await set.stop();
    expect(set.queues[0].exited()).toBe(true);
  });

  it('rejects startQueues with a typed error when the handler module exports no createQueueHandler', async () => {
    const tun = openTun({ name: 'x64t-bad', netnsPath: `/run/netns/${NS_A}` });
    devices.push(tun);
    const failure = await startQueues({ device: tun, handlerModule: fixture('broken-handler.ts') }).catch(
      (e) => e,
    );
    expect(failure).toBeInstanceOf(TunError);
    expect((failure as TunError).code).toBe(TunErrorCode.workerStart);
    expect((failure as TunError).message).toMatch(/createQueueHandler/);
  });

  it('with vnet headers and offloads, TCP over IPv4 and IPv6 reaches the handler as super-packets larger than the MTU with a GSO type and a partial checksum holding the pseudo-header sum, and relayed super-packets are accepted by the peer TUN', async () => {
    const a = openTun({ name: 'x64t-ga', vnetHdr: true, netnsPath: `/run/netns/${NS_A}` });
    const b = openTun({ name: 'x64t-gb', vnetHdr: true, netnsPath: `/run/netns/${NS_B}` });
    devices.push(a, b);
    expect(a.offloadNames).toEqual(expect.arrayContaining(['csum', 'tso4', 'tso6']));
    for (const [ns, dev, v4, v6] of [
      [NS_A, a.name, '192.0.2.1/24', '2001:db8:7::1/64'],
      [NS_B, b.name, '192.0.2.2/24', '2001:db8:7::2/64'],
    ]) {
      ip('-n', ns, 'addr', 'add', v4, 'dev', dev);
      ip('-n', ns, '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    const sharedA = new SharedArrayBuffer(6 * 8);
    const sharedB = new SharedArrayBuffer(6 * 8);
    const statsA = new Float64Array(sharedA);
    const statsB = new Float64Array(sharedB);
    const setA = await startQueues({
      device: a,
      handlerModule: fixture('relay-handler.ts'),
      handlerOptions: { shared: sharedA },
      extraFds: b.fds,
    });
    queueSets.push(setA);
    const setB = await startQueues({
      device: b,
      handlerModule: fixture('relay-handler.ts'),
      handlerOptions: { shared: sharedB },
      extraFds: a.fds,
    });
    queueSets.push(setB);

    const script = fileURLToPath(fixture('tcp-transfer.mjs'));
    const bytes = 8 * 1024 * 1024;
    for (const host of ['192.0.2.2', '2001:db8:7::2']) {
      const sink = spawnInNs(NS_B, [process.execPath, script, 'sink', host, '5001']);
      children.push(sink);
      await waitFor(() => sink.stdout().includes('listening'), `sink on ${host}`, sink);
      const source = spawnInNs(NS_A, [process.execPath, script, 'source', host, '5001', String(bytes)]);
      children.push(source);
      const result = await source.exit;
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe(String(bytes));
      await sink.exit;
    }

    // A carries the data segments; B the ACKs.
    expect(statsA[0]).toBeGreaterThan(1500);
    expect(statsA[1]).toBeGreaterThan(0);
    expect(statsA[2] & (1 << VnetGso.tcpv4)).not.toBe(0);
    expect(statsA[2] & (1 << VnetGso.tcpv6)).not.toBe(0);
    expect(statsA[3]).toBe(0);
    // vnet.ts's checksum note: a partial checksum field holds the folded pseudo-header sum, nothing else.
    expect(statsA[4]).toBeGreaterThan(0);
    expect(statsA[5]).toBe(0);
    expect(statsB[3]).toBe(0);
    expect(setA.stats().bytes).toBeGreaterThan(bytes);
    console.log(
      `largest packet read: ${statsA[0]} bytes; super-packets: ${statsA[1]}; gso type mask: ${statsA[2]}; ` +
        `partial checksums as documented: ${statsA[4]}, not: ${statsA[5]}`,
    );
    await setA.stop();
    await setB.stop();
  });
});
