// The compliance log with cluster state: two `xlat64 plat --state … --compliance kafka://…` nodes in the
// standby lab (one owner, one hot standby; nats-server and redis-server in the PLAT namespace), the run's
// Kafka broker reached through the Unix-socket relay of test/e2e/compliance.test.ts. The owner's outbox
// produces its shard's records from JetStream; the owner is killed with SIGKILL, the standby takes the
// shard over (epoch 2) and its outbox goes on from the committed position in NATS KV: `xlat64 lookup`
// names each flow's subscriber before and after, the takeover records are in the topic, no id twice.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitForKafka } from '../../infra/kafka/broker.js';
import { readTopic } from '../compliance/support.js';
import { createStandbyLab, pidAlive } from './helpers/standby-lab.js';
import {
  LABTOOL,
  PY,
  REPO,
  readUdpLog,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
  XLAT64,
} from './support.js';

const RELAY = join(REPO, 'test/e2e/helpers/tcp-unix-relay.mjs');
/** Subscriber n is 2001:db8:1:8n00::2, alone in its /56 (the PLAT's subscriber key). */
const subscriber = (n: number) => `2001:db8:1:8${n.toString(16)}00::2`;
const subscriberPrefix = (n: number) => `2001:db8:1:8${n.toString(16)}00::/56`;

interface Seen {
  n: number;
  peer: string;
  port: number;
  atMs: number;
}

interface ComplianceStatus {
  state: string;
  lagBatches: number;
  producedRecords: number;
  producingShards: number[];
  lastError: string | null;
}

describe('compliance records from cluster-state PLATs (JetStream outbox) across a takeover', () => {
  const broker = inject('kafkaBroker');
  const topic = `e2e-ccompl-${process.pid}-${Date.now()}`;
  const standby = createStandbyLab('e2e-ccompl', { detectionMs: 3000 });
  const { lab } = standby;
  const socketPath = `/tmp/x64t-e2e-ccompl-${process.pid}-kafka.sock`;
  const relays: number[] = [];
  let udpLog = '';

  const status = (name: string): ComplianceStatus | null => {
    const result = spawnSync(
      process.execPath,
      [XLAT64, 'status', '--socket', standby.socket(name), '--json'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    if (result.status !== 0) return null;
    return (JSON.parse(result.stdout) as { compliance?: ComplianceStatus }).compliance ?? null;
  };
  const waitForCompliance = async (name: string, what: string, ok: (s: ComplianceStatus) => boolean) => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = status(name);
      if (s !== null && ok(s)) return s;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}\n${standby.logOf(name)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const sendFlows = (ns: number[], round: string): Seen[] => {
    const jobs = ns.map(
      (n) =>
        `${PY} ${LABTOOL} udp-send ${SERVER_V6} ${UDP_PORT} 100 --bind ${subscriber(n)} --tag 'r=${round}&sub=${n}' --tries 5 --timeout 3 >/dev/null &`,
    );
    lab.check('client', ['sh', '-c', `${jobs.join('\n')}\nwait`], 60_000);
    const atMs = Date.now();
    const out = new Map<string, Seen>();
    for (const line of readUdpLog(udpLog)) {
      const m = /^r=([^&]+)&sub=(\d+)$/.exec(line.tag);
      if (m !== null && m[1] === round && !out.has(line.tag))
        out.set(line.tag, { n: Number(m[2]), peer: line.peer, port: line.port, atMs });
    }
    expect(out.size).toBe(ns.length);
    return [...out.values()];
  };
  const expectLookupsNameTheirSubscribers = (flows: Seen[]) => {
    for (const s of flows) {
      const result = spawnSync(
        process.execPath,
        [XLAT64, 'lookup', `${s.peer}:${s.port}`, '--at', String(s.atMs), '--proto', 'udp', '--json'].concat([
          '--brokers',
          broker.bootstrap,
          '--topic',
          topic,
        ]),
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (result.status !== 0) throw new Error(`xlat64 lookup failed: ${result.stderr}`);
      const holders = (JSON.parse(result.stdout) as { holders: { subscriber: string }[] }).holders;
      expect(
        holders.map((h) => h.subscriber),
        `${s.peer}:${s.port} of subscriber ${s.n}`,
      ).toEqual([subscriberPrefix(s.n)]);
    }
  };

  beforeAll(async () => {
    await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
    const host = spawn(
      process.execPath,
      [RELAY, 'listen-unix', socketPath, String(broker.port), String(process.pid)],
      { detached: true, stdio: 'ignore' },
    );
    host.unref();
    if (host.pid !== undefined) relays.push(host.pid);
    waitUntil(() => existsSync(socketPath), 'the host end of the Kafka relay');
    standby.up();
    relays.push(
      lab.background('plat', 'kafka-relay', [
        process.execPath,
        RELAY,
        'listen-tcp',
        String(broker.port),
        socketPath,
        String(process.pid),
      ]),
    );
    waitUntil(
      () => lab.run('plat', ['ss', '-ltnH', `sport = :${broker.port}`]).stdout.trim() !== '',
      'the Kafka relay in the PLAT namespace to listen',
    );
    udpLog = startUdpServer(lab);
    lab.check('plat', [
      'ip',
      '-6',
      'route',
      'add',
      '2001:db8:1:8000::/52',
      'via',
      '2001:db8:1::2',
      'dev',
      'p0',
    ]);
    for (let n = 0; n < 4; n++)
      lab.check('client', ['ip', '-6', 'addr', 'add', `${subscriber(n)}/128`, 'dev', 'c0', 'nodad']);
  }, 300_000);

  afterAll(() => {
    for (const pid of relays) if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    rmSync(socketPath, { force: true });
    standby.teardown();
  });

  it('the owner produces its records, the node taking over goes on from them, lookup names both rounds', async () => {
    // Proves the cluster wiring end to end: the owner's outbox reads JetStream and fills the topic; after
    // a SIGKILL the new owner resumes (takeover records with epoch 2, no id twice) and lookups name the
    // subscriber of flows made before and after the takeover.
    const url = `kafka://127.0.0.1:${broker.port}/${topic}`;
    const a = standby.startPlat('a', 'nat64', ['--compliance', url]);
    waitUntil(
      () => standby.counters('a')?.['state.serving'] === 1,
      `PLAT a to own its shard\n${standby.logOf('a')}`,
      30_000,
    );
    standby.startPlat('b', 'nat64b', ['--compliance', url]);
    waitUntil(() => standby.counters('b') !== null, `PLAT b to answer status\n${standby.logOf('b')}`, 30_000);

    const before = sendFlows([0, 1], 'a');
    await waitForCompliance(
      'a',
      "a's outbox to produce the first leases",
      (s) => s.producingShards.join() === '0' && s.lagBatches === 0 && s.producedRecords >= 2,
    );
    expect(status('b')?.producingShards).toEqual([]); // the standby produces nothing
    expectLookupsNameTheirSubscribers(before);

    process.kill(a, 'SIGKILL');
    waitUntil(() => !pidAlive(a), 'the owner to die');
    waitUntil(
      () => standby.counters('b')?.['state.serving'] === 1,
      `b to take over\n${standby.logOf('b')}`,
      30_000,
    );
    const after = sendFlows([2, 3], 'b');
    await waitForCompliance(
      'b',
      "b's outbox to produce the shard after the takeover",
      (s) => s.producingShards.join() === '0' && s.lagBatches === 0 && s.producedRecords >= 2,
    );
    expectLookupsNameTheirSubscribers([...before, ...after]);

    const records = (await readTopic(broker.bootstrap, topic)).map((t) => t.record);
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size, 'no id twice').toBe(ids.length);
    const takeovers = records.filter((r) => r.kind === 'block-takeover');
    expect(takeovers.length, JSON.stringify(records.map((r) => [r.kind, r.epoch]))).toBeGreaterThan(0);
    for (const t of takeovers) expect(t.epoch).toBe(2);
    expect(records.filter((r) => r.kind === 'block-lease').map((r) => r.subscriber)).toEqual(
      expect.arrayContaining([0, 1, 2, 3].map(subscriberPrefix)),
    );
  }, 400_000);
});
