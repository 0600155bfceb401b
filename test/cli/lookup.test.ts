// `xlat64 lookup` (the built command) against the run's Kafka broker: records from the real NAT engine
// forwarded by the outbox, then the command names the holder of an address and port at a time.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ComplianceOutbox,
  defaultDeriverOptions,
  defaultOutboxOptions,
  eventLogSource,
} from '../../services/state/src/index.js';
import { baseTimeMs, EngineDriver, kafkaForTests, temporaryDir, uniqueTopic } from '../compliance/support.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));

function xlat64(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('xlat64 lookup', () => {
  const topic = uniqueTopic('cli-lookup');
  const dir = temporaryDir();
  let bootstrap = '';
  let driver: EngineDriver;
  let mapped: { address: string; port: number };
  let atMs = 0;

  beforeAll(async () => {
    bootstrap = (await kafkaForTests()).bootstrap;
    driver = await EngineDriver.open(`${dir.path}/events`, baseTimeMs());
    driver.flow('2001:db8:77:1::5', 4000); // another subscriber first, on some address
    driver.advance(30_000);
    atMs = driver.nowMs;
    mapped = driver.flow('2001:db8:42:9::1', 5000, 'tcp', '198.51.100.80', 80);
    driver.advance(20 * 60_000);
    const outbox = new ComplianceOutbox(eventLogSource(driver.log, [0]), {
      ...defaultOutboxOptions,
      kafka: { brokers: [bootstrap] },
      topic,
      checkpointPath: `${dir.path}/outbox.json`,
      deriver: { ...defaultDeriverOptions, blockSizePorts: driver.engine.config.blockSizePorts },
      pollIntervalMs: 20,
    });
    await outbox.start();
    await driver.settle();
    await outbox.drain(60_000);
    await outbox.stop();
  });
  afterAll(async () => {
    await driver?.stop();
    dir.remove();
  });

  it('names the subscriber, its CLAT /64 and the evidence, as text and as JSON', async () => {
    // Proves the command end to end: the holder of the mapped address:port at the flow's time is the
    // subscriber that made the flow, with the lease and release record ids.
    const at = new Date(atMs + 1000).toISOString();
    const text = await xlat64(
      'lookup',
      `${mapped.address}:${mapped.port}`,
      '--proto',
      'tcp',
      '--at',
      at,
      '--brokers',
      bootstrap,
      '--topic',
      topic,
    );
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('1 holder');
    expect(text.stdout).toContain('2001:db8:42::/56  CLAT 2001:db8:42:9::/64');
    expect(text.stdout).toMatch(/evidence: block-lease \d+:\d+:\d+:\d+ @ .*block-release/);
    const json = await xlat64(
      'lookup',
      `${mapped.address}:${mapped.port}`,
      '--at',
      String(atMs + 1000),
      '--skew',
      '0s',
      '--json',
      '--brokers',
      bootstrap,
      '--topic',
      topic,
    );
    const result = JSON.parse(json.stdout);
    expect(result.holders).toHaveLength(1);
    expect(result.holders[0]).toMatchObject({
      subscriber: '2001:db8:42::/56',
      protocol: 'tcp',
      address: mapped.address,
      startMs: atMs,
    });
    // Before the lease the same port had no holder.
    const before = await xlat64(
      'lookup',
      `${mapped.address}:${mapped.port}`,
      '--proto',
      'tcp',
      '--at',
      String(atMs - 10_000),
      '--json',
      '--brokers',
      bootstrap,
      '--topic',
      topic,
    );
    expect(JSON.parse(before.stdout).holders).toEqual([]);
  });

  it('refuses a time without a zone and a missing --at, naming the fix', () => {
    // Proves bad input is refused with a usage error (exit 2) rather than guessed.
    const noZone = spawnSync(
      process.execPath,
      [bin, 'lookup', '203.0.113.1:1', '--at', '2026-11-30T10:15:02', '--brokers', bootstrap],
      { encoding: 'utf8' },
    );
    expect(noZone.status).toBe(2);
    expect(noZone.stderr).toContain('ISO 8601 time with a zone');
    const noAt = spawnSync(process.execPath, [bin, 'lookup', '203.0.113.1:1'], { encoding: 'utf8' });
    expect(noAt.status).toBe(2);
    expect(noAt.stderr).toContain('--at TIME is required');
    const badTarget = spawnSync(process.execPath, [bin, 'lookup', '203.0.113.300:1', '--at', '0'], {
      encoding: 'utf8',
    });
    expect(badTarget.status).toBe(2);
    expect(badTarget.stderr).toContain('is not IPV4:PORT');
  });
});
