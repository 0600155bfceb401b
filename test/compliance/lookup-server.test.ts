// Compliance per tenant (issue 16) on the run's real Kafka broker, over real HTTP on loopback: records
// derived with a PLAT's tenant table name each subscriber's tenant; one external address and port is
// held by isp-a's subscriber, released, then leased by isp-b's. The lookup service answers the
// operator's token with both holders around the handover and each ISP's token with its own only; an
// unknown token gets 401, a malformed query 400 naming the field, a bad credentials file is refused at
// start naming the field; `xlat64 lookup --serve` runs the same service from the command line.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenants, TenantNames, tenantPrefixTable } from '../../services/ingress/src/index.js';
import { validateConfig } from '../../services/nat-engine/src/index.js';
import {
  ComplianceOutbox,
  createKafka,
  decodeMessage,
  defaultDeriverOptions,
  defaultOutboxOptions,
  eventLogSource,
  type KafkaLookupOptions,
  type LookupHolder,
  LookupScan,
  type LookupServer,
  lookupInKafka,
  parseLookupCredentials,
  startLookupServer,
  tokenSha256,
} from '../../services/state/src/index.js';
import { baseTimeMs, EngineDriver, kafkaForTests, readTopic, temporaryDir, uniqueTopic } from './support.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const TOKENS = { operator: 'op-token-0123456789', a: 'isp-a-token-abcdef', b: 'isp-b-token-uvwxyz' };
const credentialsFile = {
  credentials: [
    { sha256: tokenSha256(TOKENS.operator), tenant: '*', name: 'exchange-noc' },
    { sha256: tokenSha256(TOKENS.a), tenant: 'isp-a' },
    { sha256: tokenSha256(TOKENS.b).toUpperCase(), tenant: 'isp-b', name: 'isp-b-abuse' },
  ],
};

const queryString = (query: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));

interface Answer {
  status: number;
  body: { tenant?: string; holders?: LookupHolder[]; scanned?: unknown; error?: string; field?: string };
}

describe('compliance lookup per tenant', () => {
  const topic = uniqueTopic('tenant-lookup');
  const dir = temporaryDir();
  const audit: string[] = [];
  let driver: EngineDriver;
  let server: LookupServer;
  let lookupOptions: KafkaLookupOptions;
  let bootstrap = '';
  const t = { aStart: 0, release: 0, bStart: 0, end: 0 };
  let held = { address: '', port: 0 };

  beforeAll(async () => {
    bootstrap = (await kafkaForTests()).bootstrap;
    // One pool address, one block per protocol: B's lease is the block A held.
    const engineInput = { pool: ['203.0.113.9/32'], blockSizePorts: 64512 };
    driver = await EngineDriver.open(`${dir.path}/events`, baseTimeMs(), engineInput);
    const tenants = parseTenants(
      [
        { name: 'isp-a', prefixes: ['2001:db8:a::/48'] },
        { name: 'isp-b', prefixes: ['2001:db8:b::/48'], subscriberPrefixLength: 64 },
      ],
      validateConfig(engineInput),
    );
    const names = new TenantNames(tenants);
    // As a PLAT's workers do: the engine keys isp-b's subscribers by isp-b's /64.
    driver.engine.config.subscriberLengths.set(tenantPrefixTable(tenants ?? []), new Uint8Array([0, 64]));
    held = driver.flow('2001:db8:a:1::1', 1000);
    t.aStart = driver.nowMs;
    driver.advance(20 * 60_000); // past the UDP timeout and the block's idle timeout: released
    t.release = driver.events.filter((e) => e.type === 2).at(-1)?.timeMs ?? 0;
    driver.advance(60_000);
    t.bStart = driver.nowMs;
    const b = driver.flow('2001:db8:b:2::1', 2000);
    expect(b.address).toBe(held.address);
    driver.advance(5 * 60_000);
    t.end = driver.nowMs;
    const outbox = new ComplianceOutbox(eventLogSource(driver.log, [0]), {
      ...defaultOutboxOptions,
      kafka: { brokers: [bootstrap] },
      topic,
      checkpointPath: `${dir.path}/outbox.json`,
      deriver: {
        ...defaultDeriverOptions,
        blockSizePorts: driver.engine.config.blockSizePorts,
        tenantOf: names.tenantOf,
      },
      pollIntervalMs: 20,
    });
    await outbox.start();
    await driver.settle();
    await outbox.drain(60_000);
    await outbox.stop();
    lookupOptions = {
      kafka: { brokers: [bootstrap] },
      topic,
      heldIntervalMs: defaultDeriverOptions.heldIntervalMs,
    };
    const kafka = createKafka(lookupOptions.kafka);
    server = await startLookupServer('127.0.0.1', 0, {
      credentials: parseLookupCredentials(credentialsFile),
      lookup: (query) => lookupInKafka(query, lookupOptions, kafka),
      log: (line) => audit.push(line),
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await driver?.stop();
    dir.remove();
  });

  const ask = async (token: string | null, query: Record<string, string | number>): Promise<Answer> => {
    const params = queryString(query);
    const response = await fetch(`http://127.0.0.1:${server.port}/lookup?${params}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };
  /** The handover (release .. B's lease) inside the window. */
  const handover = () => ({
    address: held.address,
    port: held.port,
    proto: 'udp',
    at: Math.round((t.release + t.bStart) / 2),
    skew: `${Math.ceil((t.bStart - t.release) / 2) + 1000}ms`,
  });

  it('records name the tenant of the subscriber and its prefix at the tenant length', async () => {
    // Proves the derivation with a tenant table: isp-a's lease says isp-a and its /56 (the node's
    // length), isp-b's says isp-b and its /64 (isp-b's subscriberPrefixLength), in every record.
    const records = (await readTopic(bootstrap, topic)).map((r) => r.record);
    const leases = records.filter((r) => r.kind === 'block-lease' && r.address === held.address);
    expect(leases.map((r) => [r.tenant, r.subscriber])).toEqual([
      ['isp-a', '2001:db8:a::/56'],
      ['isp-b', '2001:db8:b:2::/64'],
    ]);
    const release = records.find((r) => r.kind === 'block-release');
    expect(release?.tenant, JSON.stringify(release)).toBe('isp-a');
  });

  it("the operator's token sees both holders of the handover with their tenants", async () => {
    // Proves the operator view: both holders, named with their tenants, and what was scanned.
    const answer = await ask(TOKENS.operator, handover());
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.tenant).toBe('*');
    expect(answer.body.holders?.map((h) => [h.tenant, h.subscriber, h.startMs])).toEqual([
      ['isp-a', '2001:db8:a::/56', t.aStart],
      ['isp-b', '2001:db8:b:2::/64', t.bStart],
    ]);
    expect(answer.body.holders?.[0].endMs).toBe(t.release);
    expect(answer.body.scanned).toBeDefined();
  });

  it("each ISP's token sees only its own holder, and nothing at the other's time", async () => {
    // Proves the per-tenant view: the same window gives isp-a only A's lease and isp-b only B's; at
    // a time only B held the port, isp-a gets no holder; no answer says what else the log holds.
    const a = await ask(TOKENS.a, handover());
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.tenant).toBe('isp-a');
    expect(a.body.holders?.map((h) => [h.tenant, h.subscriber])).toEqual([['isp-a', '2001:db8:a::/56']]);
    expect(a.body.scanned, 'a tenant is not told how many records were read').toBeUndefined();
    const b = await ask(TOKENS.b, handover());
    expect(b.status).toBe(200);
    expect(b.body.holders?.map((h) => [h.tenant, h.subscriber])).toEqual([['isp-b', '2001:db8:b:2::/64']]);
    const onlyB = { ...handover(), at: t.end - 60_000, skew: '2s' };
    expect((await ask(TOKENS.a, onlyB)).body.holders).toEqual([]);
    expect((await ask(TOKENS.b, onlyB)).body.holders?.map((h) => h.tenant)).toEqual(['isp-b']);
    // The audit lines say who asked what and how many holders they got.
    expect(audit.filter((l) => /isp-a \(tenant isp-a\).*: 1 holder/.test(l)).length, audit.join('\n')).toBe(
      1,
    );
    expect(
      audit.some((l) => /exchange-noc \(tenant \*\).*: 2 holder/.test(l)),
      audit.join('\n'),
    ).toBe(true);
    expect(
      audit.some((l) => /isp-b-abuse \(tenant isp-b\)/.test(l)),
      audit.join('\n'),
    ).toBe(true);
  });

  it('refuses unknown tokens (401) and malformed queries (400 naming the field)', async () => {
    // Proves the refusals: no token and a wrong token are 401 without an answer; each malformed field
    // is named; a token's hash in upper case in the file still matches (isp-b's above).
    for (const token of [null, 'not-a-token', `${TOKENS.a}x`]) {
      const answer = await ask(token, handover());
      expect(answer.status, String(token)).toBe(401);
      expect(answer.body.holders).toBeUndefined();
    }
    expect(server.counts.unauthorized).toBeGreaterThanOrEqual(3);
    const bad: [Record<string, string | number>, string][] = [
      [{ ...handover(), port: 70000 }, 'port'],
      [{ ...handover(), address: '203.0.113' }, 'address'],
      [{ ...handover(), at: '2026-11-30T10:15:02' }, 'at'],
      [{ ...handover(), proto: 'sctp' }, 'proto'],
      [{ ...handover(), skew: 'soon' }, 'skew'],
      [{ ...handover(), tenant: 'isp-b' }, 'tenant'],
    ];
    for (const [query, field] of bad) {
      const answer = await ask(TOKENS.a, query);
      expect(answer.status, field).toBe(400);
      expect(answer.body.field).toBe(field);
    }
  });

  it('records without a tenant (older builds) stay readable: no tenant, operator view only', () => {
    // Proves the upgrade path: a format-1 record written before tenants were recorded decodes, its
    // holder has tenant null; a tenant's query leaves it out.
    const old = JSON.stringify({
      v: 1,
      id: 'old/0:0:1:0',
      kind: 'block-lease',
      leaseId: 'old/0:0:1:0',
      subscriber: '2001:db8:a::/56',
      clatPrefix64: null,
      address: '203.0.113.9',
      protocol: 'udp',
      portFirst: 1024,
      portLast: 2047,
      startMs: 1000,
      endMs: null,
      atMs: 1000,
      shard: 0,
      epoch: 0,
      sequence: 1,
      index: 0,
    });
    const records = decodeMessage(old);
    expect(records).toHaveLength(1);
    const query = { address: '203.0.113.9', port: 1500, atMs: 2000, skewMs: 0 };
    const all = new LookupScan(query);
    const isp = new LookupScan({ ...query, tenant: 'isp-a' });
    for (const r of records ?? []) {
      all.visit(r);
      isp.visit(r);
    }
    expect(all.holders().map((h) => [h.subscriber, h.tenant])).toEqual([['2001:db8:a::/56', null]]);
    expect(isp.holders()).toEqual([]);
  });

  it('refuses a bad credentials file naming the field', () => {
    // Proves the start-time checks of parseLookupCredentials: each wrong entry is named with its fix.
    const hash = tokenSha256('x');
    const cases: [unknown, string][] = [
      [{}, 'credentials'],
      [{ credentials: [{ sha256: 'abc', tenant: 'isp-a' }] }, 'credentials[0].sha256'],
      [{ credentials: [{ sha256: hash, tenant: 'ISP A' }] }, 'credentials[0].tenant'],
      [{ credentials: [{ sha256: hash, tenant: 'isp-a', token: 'x' }] }, 'credentials[0].token'],
      [
        {
          credentials: [
            { sha256: hash, tenant: 'isp-a' },
            { sha256: hash.toUpperCase(), tenant: '*' },
          ],
        },
        'credentials[1].sha256',
      ],
    ];
    for (const [raw, field] of cases) {
      expect(() => parseLookupCredentials(raw), field).toThrow(
        expect.objectContaining({ code: 'XLAT64_ERR_CONFIG', field }),
      );
    }
  });

  it('xlat64 lookup --serve answers per token and refuses a bad credentials file at start', async () => {
    // Proves the command: it refuses a credentials file with a plain token (exit 2, field named);
    // with a good file it serves on a free port, answers isp-a's token with isp-a's holder only and
    // logs the query; the CLI lookup's --tenant filters the same way.
    writeFileSync(`${dir.path}/bad.yaml`, 'credentials:\n  - { sha256: isp-a-token, tenant: isp-a }\n');
    const bad = spawnSync(
      process.execPath,
      [
        bin,
        'lookup',
        '--serve',
        '127.0.0.1:0',
        '--credentials',
        `${dir.path}/bad.yaml`,
        '--brokers',
        bootstrap,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('credentials[0].sha256');
    writeFileSync(`${dir.path}/good.json`, JSON.stringify(credentialsFile));
    const child = spawn(
      process.execPath,
      [
        bin,
        'lookup',
        '--serve',
        '127.0.0.1:0',
        '--credentials',
        `${dir.path}/good.json`,
        '--brokers',
        bootstrap,
        '--topic',
        topic,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 60_000;
      let port = 0;
      while (port === 0) {
        const m = /serving http:\/\/127\.0\.0\.1:(\d+)\/lookup/.exec(stderr);
        if (m !== null) port = Number(m[1]);
        else if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`xlat64 lookup --serve did not start: ${stderr}`);
        else await new Promise((r) => setTimeout(r, 50));
      }
      const params = queryString(handover());
      const response = await fetch(`http://127.0.0.1:${port}/lookup?${params}`, {
        headers: { authorization: `Bearer ${TOKENS.a}` },
      });
      const body = (await response.json()) as Answer['body'];
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body.holders?.map((h) => h.tenant)).toEqual(['isp-a']);
      const unknown = await fetch(`http://127.0.0.1:${port}/lookup?${params}`, {
        headers: { authorization: 'Bearer nope' },
      });
      expect(unknown.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/isp-a \(tenant isp-a\) from 127\.0\.0\.1: .*: 1 holder/);
    expect(stderr).toMatch(/refused from 127\.0\.0\.1: unknown token/);
    const h = handover();
    const cli = spawnSync(
      process.execPath,
      [
        bin,
        'lookup',
        `${h.address}:${h.port}`,
        '--at',
        String(h.at),
        '--skew',
        h.skew,
        '--tenant',
        'isp-b',
        '--brokers',
        bootstrap,
        '--topic',
        topic,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('1 holder');
    expect(cli.stdout).toContain('2001:db8:b:2::/64  tenant isp-b');
    expect(cli.stdout).not.toContain('isp-a');
  }, 120_000);
});
