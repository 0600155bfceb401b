// Membership by heartbeats in NATS KV against a real nats-server: nodes see each other join, a node that
// keeps heartbeating stays a member however long it runs, one that goes silent (a crash) is dropped by
// detection time and one that stops gracefully is dropped at once; bad options are refused by field.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectNats } from '../../state/src/index.js';
import { Membership, type MembershipChange } from '../src/index.js';

let ncA: NatsConnection;
let ncB: NatsConnection;

beforeAll(async () => {
  ncA = await connectNats({ url: inject('natsUrl'), name: 'member-a' });
  ncB = await connectNats({ url: inject('natsUrl'), name: 'member-b' });
});
afterAll(async () => {
  await ncA?.close();
  await ncB?.close();
});

/** Resolves with the first change `predicate` accepts (or rejects after `timeoutMs`: a lost event). */
function nextChange(
  membership: Membership,
  predicate: (change: MembershipChange) => boolean,
  timeoutMs = 15_000,
): Promise<MembershipChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such membership change arrived')), timeoutMs);
    membership.onChange((change) => {
      if (predicate(change)) {
        clearTimeout(timer);
        resolve(change);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('membership (heartbeats in NATS KV)', () => {
  it('a node that stops heartbeating is dropped by the others; one that keeps heartbeating is not', async () => {
    // Proves liveness follows heartbeats: B stays a member across many detection periods while it
    // heartbeats, and a silent B (no goodbye, as after kill -9) is dropped by detection.
    const bucket = `members-${randomUUID().slice(0, 8)}`;
    const detectionMs = 1000; // the default: a shorter one would drop B under a loaded test machine
    const a = await Membership.start(ncA, {
      nodeId: 'node-a',
      fabricAddress: '127.0.0.1:6081',
      detectionMs,
      bucket,
    });
    const bJoined = nextChange(a, (c) => c.joined.includes('node-b'));
    const b = await Membership.start(ncB, {
      nodeId: 'node-b',
      fabricAddress: '127.0.0.2:6081',
      detectionMs,
      bucket,
    });
    try {
      const joined = await bJoined;
      expect(joined.members.map((m) => m.nodeId)).toContain('node-b');
      expect(joined.members.find((m) => m.nodeId === 'node-b')?.fabricAddress).toBe('127.0.0.2:6081');
      // B's view settles too (it may already hold both: poll the view rather than wait for an event).
      for (let i = 0; i < 300 && b.members().length < 2; i++) await sleep(50);
      expect(b.members().map((m) => m.nodeId)).toEqual(['node-a', 'node-b']);

      const left: MembershipChange[] = [];
      a.onChange((c) => {
        if (c.left.length > 0) left.push(c);
      });
      await sleep(detectionMs * 5);
      expect(left).toEqual([]);
      expect(a.members().map((m) => m.nodeId)).toEqual(['node-a', 'node-b']);

      const dropped = nextChange(a, (c) => c.left.includes('node-b'));
      await b.stop(false);
      const change = await dropped;
      expect(change.members.map((m) => m.nodeId)).toEqual(['node-a']);
      expect(a.members().map((m) => m.nodeId)).toEqual(['node-a']);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('a graceful stop deletes the heartbeat key, so the others drop the node without waiting', async () => {
    // Proves the goodbye path: with a detection time of a minute, only the key's deletion can drop B.
    const bucket = `members-${randomUUID().slice(0, 8)}`;
    const options = { detectionMs: 60_000, heartbeatIntervalMs: 100, bucket };
    const a = await Membership.start(ncA, { nodeId: 'node-a', fabricAddress: '127.0.0.1:6081', ...options });
    const bJoined = nextChange(a, (c) => c.joined.includes('node-b'));
    const b = await Membership.start(ncB, { nodeId: 'node-b', fabricAddress: '127.0.0.2:6081', ...options });
    try {
      await bJoined;
      const dropped = nextChange(a, (c) => c.left.includes('node-b'), 20_000);
      await b.stop(true);
      expect((await dropped).members.map((m) => m.nodeId)).toEqual(['node-a']);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('refuses a bad node id or detection time, naming the field', async () => {
    // Proves bad configuration is refused at start with the field and the fix, not at the first heartbeat.
    await expect(Membership.start(ncA, { nodeId: 'has space', fabricAddress: 'x:1' })).rejects.toMatchObject({
      code: 'XLAT64_ERR_CLUSTER_CONFIG',
      field: 'nodeId',
    });
    await expect(
      Membership.start(ncA, { nodeId: 'ok', fabricAddress: 'x:1', detectionMs: 10 }),
    ).rejects.toMatchObject({ code: 'XLAT64_ERR_CLUSTER_CONFIG', field: 'detectionMs' });
    await expect(
      Membership.start(ncA, {
        nodeId: 'ok',
        fabricAddress: 'x:1',
        detectionMs: 1000,
        heartbeatIntervalMs: 1000,
      }),
    ).rejects.toMatchObject({ code: 'XLAT64_ERR_CLUSTER_CONFIG', field: 'heartbeatIntervalMs' });
  });
});
