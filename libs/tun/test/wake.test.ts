// Real-kernel test of the queue wake-up: a worker waiting on its idle TUN queue (poll timeout 10 s)
// is woken at once through its wake eventfd when another worker passes it a packet (context.wakeQueue),
// and stop() wakes every waiting worker. Without the wake, every reply would wait for the 10 s poll:
// ping's 5 s deadline would fail, and stop() (5 s allowed) would throw.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTun, type QueueSet, startQueues, type TunDevice } from '../src/index.js';
import { createNamespace, deleteNamespace, inNs, ip, spawnInNs } from './netns.js';

const NS = `x64t-wake-${process.pid}`;
const devices: TunDevice[] = [];
const sets: QueueSet[] = [];

beforeAll(() => {
  createNamespace(NS);
});

afterAll(async () => {
  for (const set of sets) await set.stop().catch(() => {});
  for (const d of devices) d.close();
  deleteNamespace(NS);
});

describe('TUN queue wake-up', () => {
  it('a packet handed to a worker waiting on its idle queue is answered without waiting for the poll timeout, and stop() wakes every worker', async () => {
    const tun = openTun({ name: 'x64t-wake', queues: 2, netnsPath: `/run/netns/${NS}` });
    devices.push(tun);
    // No IPv6 on the device: no kernel MLD/RS packet lands on a queue and wakes its worker instead.
    inNs(NS, 'sysctl', '-qw', 'net.ipv6.conf.x64t-wake.disable_ipv6=1');
    ip('-n', NS, 'addr', 'add', '192.0.2.1/24', 'dev', tun.name);
    ip('-n', NS, 'link', 'set', tun.name, 'up');
    const shared = new SharedArrayBuffer(16 * 4);
    const counts = new Int32Array(shared);
    const set = await startQueues({
      device: tun,
      handlerModule: new URL('./fixtures/wake-handler.ts', import.meta.url),
      handlerOptions: { shared, mail: new SharedArrayBuffer(2 * 2048) },
      pollTimeoutMs: 10_000,
      stopTimeoutMs: 5_000,
    });
    sets.push(set);
    const ping = spawnInNs(NS, ['ping', '-c', '3', '-i', '0.3', '-w', '5', '192.0.2.2']);
    const result = await ping.exit;
    expect(result.stdout).toContain('3 received');
    expect(Atomics.load(counts, 11)).toBe(3); // every request was handed to the other queue
    expect(Atomics.load(counts, 8)).toBe(3); // and answered from its onWake
    expect(Atomics.load(counts, 10)).toBe(0); // not from a poll timeout
    expect(set.stats().wakes).toBeGreaterThanOrEqual(3);
    await set.stop(); // throws when a worker is still in its 10 s poll after 5 s
    expect(set.queues.every((q) => q.exited())).toBe(true);
  });
});
