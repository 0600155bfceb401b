// The PLAT's `metrics` key (and --metrics) is read as HOST:PORT; a malformed value is refused at
// start naming the field and the expected form, and a taken port is refused naming the address. The
// `tracesUrl` key (OTLP/HTTP traces) is an http(s) URL or refused naming the field.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startMetricsEndpoint } from '../../../libs/telemetry/src/index.js';
import { parsePlatConfig } from '../src/index.js';

const base = { pool4: ['203.0.113.0/24'] };

describe('metrics listen address', () => {
  it('accepts IPv4 and bracketed IPv6 HOST:PORT and leaves metrics off when absent', () => {
    // Proves the parsed address reaches the config, and absence means no endpoint.
    expect(parsePlatConfig({ ...base, metrics: '127.0.0.1:9464' }).metrics).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(parsePlatConfig({ ...base, metrics: '[::1]:9000' }).metrics).toEqual({ host: '::1', port: 9000 });
    expect(parsePlatConfig(base).metrics).toBeUndefined();
  });

  it.each(['9464', '127.0.0.1', '127.0.0.1:99999', '::1:9000', 9464])(
    'refuses %j naming the field',
    (value) => {
      // Proves each malformed form is refused at start with the field and the fix.
      expect(() => parsePlatConfig({ ...base, metrics: value })).toThrow(/^metrics: expected HOST:PORT/);
    },
  );

  it('refuses a port already taken, naming the address', async () => {
    // Proves a bind failure is a typed error, not a crash later.
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    await expect(
      startMetricsEndpoint({ listen: { host: '127.0.0.1', port }, counters: { names: [], blocks: [] } }),
    ).rejects.toMatchObject({
      code: 'XLAT64_ERR_METRICS_LISTEN',
      message: expect.stringContaining(`127.0.0.1:${port}`),
    });
    await new Promise<void>((r) => taken.close(() => r()));
  });

  it('reads tracesUrl as an http(s) URL, off when absent, and refuses anything else naming the field', () => {
    // Proves the tracing switch reaches the config and a typo is refused at start with the fix.
    const url = 'http://127.0.0.1:4318/v1/traces';
    expect(parsePlatConfig({ ...base, tracesUrl: url }).tracesUrl).toBe(url);
    expect(parsePlatConfig(base).tracesUrl).toBeUndefined();
    for (const bad of ['127.0.0.1:4318', 'grpc://127.0.0.1:4317', 'http://'])
      expect(() => parsePlatConfig({ ...base, tracesUrl: bad })).toThrow(
        /^tracesUrl: .*not an http\(s\) URL/,
      );
  });

  it('reads tracesUi (the dashboard links takeovers to its trace search) and refuses a non-URL naming the field', () => {
    // Proves the link target reaches the config and a typo is refused at start, naming tracesUi.
    expect(parsePlatConfig({ ...base, tracesUi: 'http://127.0.0.1:16686' }).tracesUi).toBe(
      'http://127.0.0.1:16686',
    );
    expect(parsePlatConfig(base).tracesUi).toBeUndefined();
    expect(() => parsePlatConfig({ ...base, tracesUi: 'jaeger:16686' })).toThrow(
      /^tracesUi: 'jaeger:16686' is not an http\(s\) URL; e\.g\. http:\/\/127\.0\.0\.1:16686/,
    );
  });
});
