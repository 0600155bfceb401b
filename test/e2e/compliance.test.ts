// The compliance log of a running `xlat64 plat --compliance kafka://…` in the namespace lab, on the run's
// real Kafka broker (infra/kafka/global-setup.ts). The PLAT's namespace reaches the broker through a
// relay of two small processes (TCP in the namespace <-> a Unix socket <-> TCP in the host,
// helpers/tcp-unix-relay.mjs); killing the namespace end by its PID makes Kafka unreachable for this
// PLAT only, so the shared broker keeps serving the other suites. Subscribers in separate /56s send UDP
// to the IPv4-only server, which logs the address and port each flow arrived from; `xlat64 lookup` on
// that address, port and time must name the flow's subscriber. The PLAT serves two tenants: isp-a
// (subscribers 0-3, 2001:db8:1:8000::/54, delegating /64s) and isp-b (4-7, 2001:db8:1:8400::/54, /56s);
// each record names its subscriber's tenant and the prefix at that tenant's length.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitForKafka } from '../../infra/kafka/broker.js';
import { validateConfig } from '../../services/nat-engine/src/index.js';
import {
  ComplianceDeriver,
  type ComplianceRecord,
  defaultDeriverOptions,
  EmbeddedLogTail,
  eventLogSource,
} from '../../services/state/src/index.js';
import { readTopic } from '../compliance/support.js';
import {
  createE2eLab,
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
/** Subscriber n is 2001:db8:1:8n00::2, alone in its /56 (and /64): the PLAT's subscriber key. */
const subscriber = (n: number) => `2001:db8:1:8${n.toString(16)}00::2`;
/** isp-a's subscribers (0-3) are /64s, isp-b's (4-7) /56s. */
const tenantOf = (n: number) => (n < 4 ? 'isp-a' : 'isp-b');
const subscriberPrefix = (n: number) => `2001:db8:1:8${n.toString(16)}00::/${n < 4 ? 64 : 56}`;

interface Seen {
  n: number;
  peer: string;
  port: number;
  atMs: number;
}

/** The PLAT's metrics endpoint in its namespace (the outbox lag gauges). */
const METRICS = '127.0.0.1:9464';

describe('compliance records from xlat64 plat to Kafka, and xlat64 lookup', () => {
  const broker = inject('kafkaBroker');
  const topic = `e2e-compliance-${process.pid}-${Date.now()}`;
  const lab = createE2eLab('e2e-compl', {
    plat: 'xlat64',
    clat: 'none',
    platArgs: ['--compliance', `kafka://127.0.0.1:${broker.port}/${topic}`, '--metrics', METRICS],
    platConfigExtra: [
      'tenants:',
      '  - name: isp-a',
      '    prefixes: [2001:db8:1:8000::/54]',
      '    subscriberPrefixLength: 64',
      '  - name: isp-b',
      '    prefixes: [2001:db8:1:8400::/54]',
    ].join('\n'),
  });
  const socketPath = `/tmp/x64t-e2e-compl-${process.pid}-kafka.sock`;
  let hostRelay: number | undefined;
  let nsRelay: number | undefined;
  let udpLog = '';
  const seen: Seen[] = [];

  const startNamespaceRelay = () => {
    nsRelay = lab.background('plat', 'kafka-relay', [
      process.execPath,
      RELAY,
      'listen-tcp',
      String(broker.port),
      socketPath,
      String(process.pid),
    ]);
    waitUntil(
      () => lab.run('plat', ['ss', '-ltnH', `sport = :${broker.port}`]).stdout.trim() !== '',
      'the Kafka relay in the PLAT namespace to listen',
    );
  };
  const stopNamespaceRelay = () => {
    if (nsRelay === undefined) return;
    process.kill(nsRelay, 'SIGKILL');
    const pid = nsRelay;
    waitUntil(() => !existsSync(`/proc/${pid}`) || readProcState(pid) === 'Z', 'the relay to exit');
    nsRelay = undefined;
  };
  const compliance = () => lab.roleStatus('plat').compliance as ComplianceStatus | null;
  const waitForCompliance = async (what: string, ok: (s: ComplianceStatus) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = compliance();
      if (status !== null && ok(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  /** UDP from subscribers `ns`, two flows each; returns what the server saw, with the time after the sends. */
  const sendFlows = (ns: number[], round: string): Seen[] => {
    const jobs = ns.flatMap((n) =>
      [0, 1].map(
        (f) =>
          `${PY} ${LABTOOL} udp-send ${SERVER_V6} ${UDP_PORT} 100 --bind ${subscriber(n)} --tag 'r=${round}&sub=${n}&flow=${f}' --tries 5 --timeout 3 >/dev/null &`,
      ),
    );
    lab.check('client', ['sh', '-c', `${jobs.join('\n')}\nwait`], 60_000);
    const atMs = Date.now();
    const out: Seen[] = [];
    const tags = new Set<string>(); // a datagram the client retried is logged once per copy
    for (const line of readUdpLog(udpLog)) {
      const m = /^r=([^&]+)&sub=(\d+)&flow=\d+$/.exec(line.tag);
      if (m === null || m[1] !== round || tags.has(line.tag)) continue;
      tags.add(line.tag);
      out.push({ n: Number(m[2]), peer: line.peer, port: line.port, atMs });
    }
    expect(out).toHaveLength(ns.length * 2);
    seen.push(...out);
    return out;
  };
  const lookup = (s: Seen) => {
    const result = spawnSync(
      process.execPath,
      [
        XLAT64,
        'lookup',
        `${s.peer}:${s.port}`,
        '--at',
        String(s.atMs),
        '--proto',
        'udp',
        '--json',
        '--brokers',
        broker.bootstrap,
        '--topic',
        topic,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (result.status !== 0) throw new Error(`xlat64 lookup failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as {
      holders: { subscriber: string; tenant: string | null; portFirst: number; portLast: number }[];
    };
  };
  const expectLookupsNameTheirSubscribers = (flows: Seen[]) => {
    for (const s of flows) {
      const holders = lookup(s).holders;
      expect(
        holders.map((h) => h.subscriber),
        `${s.peer}:${s.port} of subscriber ${s.n}`,
      ).toEqual([subscriberPrefix(s.n)]);
      expect(holders[0].tenant, `tenant of subscriber ${s.n}`).toBe(tenantOf(s.n));
      expect(holders[0].portFirst).toBeLessThanOrEqual(s.port);
      expect(holders[0].portLast).toBeGreaterThanOrEqual(s.port);
    }
  };

  beforeAll(async () => {
    await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
    const host = spawn(
      process.execPath,
      [RELAY, 'listen-unix', socketPath, String(broker.port), String(process.pid)],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    host.unref();
    hostRelay = host.pid;
    waitUntil(() => existsSync(socketPath), 'the host end of the Kafka relay');
    lab.up();
    startNamespaceRelay();
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
    for (let n = 0; n < 8; n++) {
      lab.check('client', ['ip', '-6', 'addr', 'add', `${subscriber(n)}/128`, 'dev', 'c0', 'nodad']);
    }
  }, 180_000);

  afterAll(() => {
    for (const pid of [nsRelay, hostRelay]) {
      if (pid !== undefined && existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    }
    rmSync(socketPath, { force: true });
    lab.teardown();
  });

  it('names the right subscriber for the address and port each flow arrived from', async () => {
    // Proves the PLAT's outbox delivers a lease record per block to Kafka and that the records
    // attribute each (address, port, time) the server saw to the subscriber that sent the flow, named
    // at its tenant's length, with its tenant (isp-a's /64s, isp-b's /56s).
    const flows = sendFlows([0, 1, 4, 5], 'a');
    // Paired pooling puts subscribers on different addresses or blocks: the lookup must tell them apart.
    expect(new Set(flows.map((f) => `${f.peer}/${Math.floor(f.port / 512)}`)).size).toBeGreaterThan(1);
    await waitForCompliance(
      'the outbox to send the first leases',
      (s) => s.state === 'running' && s.lagBatches === 0 && s.producedRecords >= 4,
      60_000,
    );
    expectLookupsNameTheirSubscribers(flows);
  }, 300_000);

  it('keeps translating while Kafka is unreachable and across a PLAT crash, then delivers every record once', async () => {
    // Proves the durable outbox: with Kafka cut off, traffic goes on and the outbox waits with its lag
    // counted; a kill -9 of the PLAT meanwhile loses nothing the event log holds; once Kafka is back
    // the topic holds exactly the records derived independently from the PLAT's logs, no id twice.
    stopNamespaceRelay();
    const during = sendFlows([2, 3], 'b');
    const down = await waitForCompliance(
      'the outbox to notice Kafka is unreachable',
      (s) => s.state === 'waiting-for-kafka' && s.lagBatches > 0,
      90_000,
    );
    expect(down.lastError).not.toBeNull();
    // The outbox's lag in the PLAT's /metrics (read from the outbox's status at the scrape) is the status's.
    let scraped: Record<string, number> = {};
    let status = down;
    for (let i = 0; i < 40; i++) {
      status = compliance() ?? down;
      const text = lab.check('plat', ['curl', '-sS', '--max-time', '10', `http://${METRICS}/metrics`]);
      scraped = Object.fromEntries(
        [...text.matchAll(/^(xlat64_compliance_outbox_\w+)\{[^}]*\} (\S+)$/gm)].map((m) => [
          m[1],
          Number(m[2]),
        ]),
      );
      if (scraped.xlat64_compliance_outbox_lag === status.lagBatches) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(scraped.xlat64_compliance_outbox_lag, JSON.stringify(scraped)).toBe(status.lagBatches);
    expect(scraped.xlat64_compliance_outbox_lag).toBeGreaterThan(0);
    expect(scraped.xlat64_compliance_outbox_pending).toBeGreaterThanOrEqual(0);
    expect(scraped.xlat64_compliance_outbox_oldest_pending_age).toBeGreaterThanOrEqual(0);
    // The PLAT writes its event log once a second: wait for it, then crash the PLAT and start it again.
    await new Promise((r) => setTimeout(r, 2500));
    lab.killAndRestartPlat(500);
    const afterCrash = sendFlows([6, 7], 'c');
    await new Promise((r) => setTimeout(r, 2500));
    expect(compliance()?.producedRecords).toBe(0); // the new process has not reached Kafka yet
    startNamespaceRelay();
    await waitForCompliance(
      'the outbox to catch up after Kafka is back',
      (s) => s.state === 'running' && s.lagBatches === 0 && s.producedRecords > 0,
      120_000,
    );
    expectLookupsNameTheirSubscribers([...during, ...afterCrash]);
    // Every record exactly once: the topic against the PLAT's own log, derived here.
    const inTopic = (await readTopic(broker.bootstrap, topic)).map((t) => t.record.id);
    expect(new Set(inTopic).size).toBe(inTopic.length);
    const expected = await deriveFromPlatLog(`${lab.runDir}/state`);
    expect(expected.filter((r) => r.kind === 'block-lease').length).toBeGreaterThanOrEqual(8);
    expect(inTopic.sort()).toEqual(expected.map((r) => r.id).sort());
  }, 480_000);
});

interface ComplianceStatus {
  state: string;
  lagBatches: number;
  producedRecords: number;
  lastError: string | null;
}

function readProcState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2];
  } catch {
    return 'gone';
  }
}

/** The records the outbox must have produced: the single worker's log in stateDir, derived independently. */
async function deriveFromPlatLog(stateDir: string): Promise<ComplianceRecord[]> {
  const engine = validateConfig({ pool: ['203.0.113.0/24'] });
  const deriver = new ComplianceDeriver({
    ...defaultDeriverOptions,
    blockSizePorts: engine.blockSizePorts,
    subscriberPrefixLength: engine.subscriberPrefixLength,
    idPrefix: `${hostname()}/`,
  });
  const source = eventLogSource(new EmbeddedLogTail([{ shard: 0, directory: stateDir }]), [0]);
  expect(await source.firstSequence(0)).toBe(1); // nothing compacted: the whole log is there
  const out: ComplianceRecord[] = [];
  let after = 0;
  for (;;) {
    const batches = await source.read(0, after, 256);
    if (batches.length === 0) break;
    for (const batch of batches) deriver.derive(0, batch.sequence, batch.events, out);
    after = batches.at(-1)?.sequence ?? after;
  }
  return out;
}
