// The PLAT's `cluster` key (issue 10): node id, detection time and the fabric (address, keys, MAC) are read
// with their defaults; every bad value is refused at start with an error naming the field
// (cluster.<field>) and the fix; and a cluster table becomes the workers' routing table (table shard =
// worker shard: local worker of that number on the owner, "another node" elsewhere).
import { describe, expect, it } from 'vitest';
import { nextTable } from '../../cluster/src/index.js';
import { routingTableOf } from '../src/cluster/cluster-view.js';
import { parsePlatConfig } from '../src/index.js';

const KEY = { id: 1, secretHex: '00112233445566778899aabbccddeeff' };
const base = {
  pool4: ['203.0.113.0/24'],
  state: { nats: 'nats://n1:4222', redis: 'redis://r:6379' },
  cluster: { nodeId: 'plat-a', fabric: { address: '198.51.100.2', keys: [KEY] } },
};

/** The test's configuration, as its cases change it. */
interface Editable {
  state?: Record<string, unknown>;
  queues?: number;
  cluster: Record<string, unknown> & { fabric: Record<string, unknown> };
}

function refusal(change: (config: Editable) => void): { field?: string; message: string } {
  const config = structuredClone(base) as unknown as Editable;
  change(config);
  try {
    parsePlatConfig(config as unknown as Record<string, unknown>);
  } catch (error) {
    return { field: (error as { field?: string }).field, message: (error as Error).message };
  }
  throw new Error('the configuration was accepted');
}

describe('cluster configuration', () => {
  it('reads node id, detection and fabric with defaults, and gives the state layer the same node id', () => {
    // Proves the defaults (GENEVE port 6081, HMAC-SHA-256, 1 s) and that the ownership records use the cluster id.
    const config = parsePlatConfig(base);
    expect(config.cluster).toEqual({
      nodeId: 'plat-a',
      detectionMs: 1000,
      fabric: {
        host: '198.51.100.2',
        port: 6081,
        keys: [KEY],
        currentKeyId: undefined,
        mac: 'hmac-sha256',
        vni: undefined,
        receiveBufferBytes: undefined,
      },
    });
    expect(config.state?.nodeId).toBe('plat-a');
    const v6 = parsePlatConfig({
      ...base,
      cluster: {
        ...base.cluster,
        detectionMs: 300,
        fabric: { address: '[2001:db8::2]:7000', keys: [KEY], mac: 'blake2s', receiveBufferBytes: 4194304 },
      },
    });
    expect(v6.cluster?.fabric).toMatchObject({
      host: '2001:db8::2',
      port: 7000,
      mac: 'blake2s',
      receiveBufferBytes: 4194304,
    });
    expect(v6.cluster?.detectionMs).toBe(300);
    expect(parsePlatConfig({ ...base, cluster: undefined }).cluster).toBeUndefined();
  });

  it.each([
    ['no state', (c: Editable) => (c.state = undefined), 'cluster', /needs state/],
    ['an unknown key', (c: Editable) => (c.cluster.nodes = 3), 'cluster.nodes', /unknown option/],
    [
      'a node id with a dot',
      (c: Editable) => (c.cluster.nodeId = 'plat.a'),
      'cluster.nodeId',
      /1-64 letters/,
    ],
    [
      'another state.nodeId',
      (c: Editable) => (c.state = { ...c.state, nodeId: 'plat-b' }),
      'cluster.nodeId',
      /differs from state\.nodeId/,
    ],
    [
      'a detection of 10 ms',
      (c: Editable) => (c.cluster.detectionMs = 10),
      'cluster.detectionMs',
      /50\.\.60000/,
    ],
    ['no fabric', (c: Editable) => (c.cluster.fabric = undefined as never), 'cluster.fabric', /is required/],
    [
      'a fabric address without an IP',
      (c: Editable) => (c.cluster.fabric.address = 'node-a'),
      'cluster.fabric.address',
      /no IP address/,
    ],
    [
      'a port out of range',
      (c: Editable) => (c.cluster.fabric.address = '198.51.100.2:70000'),
      'cluster.fabric.address',
      /no valid port/,
    ],
    ['no keys', (c: Editable) => (c.cluster.fabric.keys = undefined), 'cluster.fabric.keys', /is required/],
    [
      'a short key',
      (c: Editable) => (c.cluster.fabric.keys = [{ id: 1, secretHex: 'abcd' }]),
      'cluster.fabric.keys[].secretHex',
      /hex/,
    ],
    [
      'three keys',
      (c: Editable) => (c.cluster.fabric.keys = [KEY, { ...KEY, id: 2 }, { ...KEY, id: 3 }]),
      'cluster.fabric.keys',
      /1 or 2 keys/,
    ],
    [
      'an unknown MAC',
      (c: Editable) => (c.cluster.fabric.mac = 'md5'),
      'cluster.fabric.mac',
      /blake2s, hmac-sha256/,
    ],
    [
      'a current key not held',
      (c: Editable) => (c.cluster.fabric.currentKeyId = 9),
      'cluster.fabric.currentKeyId',
      /9/,
    ],
    [
      'a receive buffer of 1 KiB',
      (c: Editable) => (c.cluster.fabric.receiveBufferBytes = 1024),
      'cluster.fabric.receiveBufferBytes',
      /65536\.\.1073741824/,
    ],
    ['three queues', (c: Editable) => (c.queues = 3), 'queues', /power of two/],
  ])('refuses %s naming the field', (_what, change, field, message) => {
    // Proves a bad value stops the start with the field and what to do, never a silent default.
    const refused = refusal(change);
    expect(refused.field).toBe(field);
    expect(refused.message).toMatch(message);
  });
});

describe('routingTableOf', () => {
  it('routes each virtual shard to this node worker (table shard = virtual shard mod workers) or to another node', () => {
    // Proves the mapping the workers route by: only the owner's worker of that number translates a shard.
    const table = nextTable(null, ['a', 'b', 'c'], 4);
    for (const node of ['a', 'b', 'c']) {
      const routing = routingTableOf(table, node, 4, 64);
      expect(routing.memberCount).toBe(5);
      expect(routing.version).toBe(table.version + 1);
      for (let s = 0; s < 64; s++) {
        const owns = table.members[table.owner[s % 4]] === node;
        expect(routing.owner[s]).toBe(owns ? s % 4 : 4);
      }
    }
    // Every table shard has exactly one owner node among the three.
    for (let shard = 0; shard < 4; shard++) {
      const owners = ['a', 'b', 'c'].filter((n) => routingTableOf(table, n, 4, 64).owner[shard] === shard);
      expect(owners).toHaveLength(1);
    }
  });
});
