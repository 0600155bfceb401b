// `xlat64 plat` configuration of the compliance log: `compliance: kafka://HOST:PORT[,HOST:PORT]/TOPIC`
// (the --compliance flag's form) or a mapping with url, mode, logDestinations, heldIntervalMs, node, format, compression;
// absent means off; every bad value is refused at start with the field named and the fix.
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../../libs/dataplane/src/index.js';
import { parsePlatConfig } from '../src/plat-config.js';

const base = { pool4: ['203.0.113.0/24'], stateDir: '/tmp/x64t-config' };

function refusal(compliance: unknown): DataplaneError {
  try {
    parsePlatConfig({ ...base, compliance });
  } catch (error) {
    expect(error).toBeInstanceOf(DataplaneError);
    return error as DataplaneError;
  }
  throw new Error(`accepted ${JSON.stringify(compliance)}`);
}

describe('plat configuration: compliance', () => {
  it('is off by default; a URL gives brokers and topic, a mapping the record options', () => {
    // Proves the accepted forms parse to what the outbox is started with.
    expect(parsePlatConfig({ ...base }).compliance).toBeUndefined();
    expect(
      parsePlatConfig({ ...base, compliance: 'kafka://192.0.2.10:9092/cgnat-log' }).compliance,
    ).toMatchObject({
      brokers: ['192.0.2.10:9092'],
      topic: 'cgnat-log',
      mode: 'block',
      logDestinations: false,
      heldIntervalMs: 3_600_000,
      format: 'packed',
      compression: 'gzip',
    });
    expect(
      parsePlatConfig({
        ...base,
        compliance: {
          url: 'kafka://k1.example:9092,[2001:db8::9]:9093/',
          mode: 'session',
          logDestinations: true,
          heldIntervalMs: 60_000,
          node: 'plat-a',
          format: 'single',
          compression: 'none',
        },
      }).compliance,
    ).toEqual({
      brokers: ['k1.example:9092', '[2001:db8::9]:9093'],
      topic: 'xlat64-compliance',
      mode: 'session',
      logDestinations: true,
      heldIntervalMs: 60_000,
      node: 'plat-a',
      format: 'single',
      compression: 'none',
    });
  });

  it('refuses a bad URL, broker, topic, mode, interval, node or unknown key, naming the field and the fix', () => {
    // Proves each bad value stops the start with the field the operator wrote and what to write instead.
    const notUrl = refusal('http://192.0.2.10:9092/log');
    expect(notUrl.field).toBe('compliance');
    expect(notUrl.message).toMatch(/kafka:\/\/HOST:PORT/);
    expect(refusal('kafka://192.0.2.10/log').message).toMatch(/broker '192\.0\.2\.10' .* not HOST:PORT/);
    expect(refusal('kafka://192.0.2.10:70000/log').field).toBe('compliance');
    expect(refusal('kafka://192.0.2.10:9092/bad topic').message).toMatch(/not a Kafka topic name/);
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', mode: 'flow' }).field).toBe('compliance.mode');
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', logDestinations: true }).field).toBe(
      'compliance.logDestinations',
    );
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', heldIntervalMs: 10 }).field).toBe(
      'compliance.heldIntervalMs',
    );
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', node: 'a/b' }).field).toBe('compliance.node');
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', format: 'json' }).field).toBe('compliance.format');
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', compression: 'zstd' }).message).toMatch(
      /'gzip' \(default\) or 'none'/,
    );
    expect(refusal({ url: 'kafka://192.0.2.10:9092/t', brokers: 'x' }).field).toBe('compliance.brokers');
    expect(refusal({ mode: 'block' }).field).toBe('compliance.url');
    expect(refusal(42).field).toBe('compliance');
  });

  it('is accepted with cluster mode (state); only compliance.node is refused there, named', () => {
    // Proves the JetStream outbox is configurable with state, and a per-node id name that cannot apply
    // to cluster-wide ids is refused at start instead of being silently ignored.
    const state = 'nats://127.0.0.1:4222,redis://127.0.0.1:6379';
    const config = parsePlatConfig({ ...base, compliance: 'kafka://192.0.2.10:9092/cgnat-log', state });
    expect(config.compliance?.topic).toBe('cgnat-log');
    expect(config.state?.nats).toBe('nats://127.0.0.1:4222');
    let error: unknown;
    try {
      parsePlatConfig({ ...base, compliance: { url: 'kafka://192.0.2.10:9092/t', node: 'a' }, state });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DataplaneError);
    expect((error as DataplaneError).field).toBe('compliance.node');
  });
});
