// The PLAT's `state` key (and --state): cluster mode's NATS and Redis URLs, as one string or a mapping;
// a malformed value is refused at start naming the field (state, state.nats, state.redis, ...) and the fix.
import { describe, expect, it } from 'vitest';
import { parsePlatConfig } from '../src/index.js';

const base = { pool4: ['203.0.113.0/24'] };

describe('state (cluster mode)', () => {
  it('reads the --state string and the mapping form, and leaves embedded mode when absent', () => {
    // Proves both notations reach the same configuration, with the defaults filled in.
    const fromFlag = parsePlatConfig({
      ...base,
      state: 'nats://n1:4222,nats://n2:4222,redis://r:6379',
    }).state;
    expect(fromFlag).toMatchObject({
      nats: 'nats://n1:4222,nats://n2:4222',
      redis: 'redis://r:6379',
      detectionMs: 1000,
      pool: 'default',
    });
    expect(fromFlag?.nodeId).toMatch(/-\d+$/);
    const fromFile = parsePlatConfig({
      ...base,
      state: { nats: 'tls://n1:4222', redis: 'rediss://u:p@r:6380/0', nodeId: 'plat-1', detectionMs: 500 },
    }).state;
    expect(fromFile).toEqual({
      nats: 'tls://n1:4222',
      redis: 'rediss://u:p@r:6380/0',
      nodeId: 'plat-1',
      detectionMs: 500,
      pool: 'default',
    });
    expect(parsePlatConfig(base).state).toBeUndefined();
  });

  it.each([
    ['http://n1:4222,redis://r', /^state: 'http:\/\/n1:4222' is neither a nats/],
    ['redis://r:6379', /^state\.nats: a NATS URL is required/],
    ['nats://n1:4222', /^state\.redis: a Redis URL is required/],
    ['nats://n1:4222,redis://a,redis://b', /^state: give one redis:\/\/ URL/],
    [{ nats: 'nats://n1', redis: 'redis://r', detectionMs: 5 }, /^state\.detectionMs: 5 must be/],
    [{ nats: 'nats://n1', redis: 'redis://r', nodeId: 'a b' }, /^state\.nodeId: 'a b' must be/],
    [{ nats: 'nats://n1', redis: 'redis://r', natz: 1 }, /^state\.natz: unknown option/],
    [{ nats: 'nats://n1', redis: 'ftp://r' }, /^state\.redis: 'ftp:\/\/r' is not a redis/],
    [42, /^state: write state: nats:/],
  ])('refuses %j naming the field', (value, message) => {
    // Proves each malformed value is refused at start with its field and the fix, before anything connects.
    expect(() => parsePlatConfig({ ...base, state: value })).toThrow(message);
  });

  it('refuses cluster mode with io xdp', () => {
    // Proves the unsupported combination is refused rather than half-working (a standby would steer traffic).
    expect(() =>
      parsePlatConfig({ ...base, io: 'xdp', interface: 'eth0', state: 'nats://n:4222,redis://r:6379' }),
    ).toThrow(/^state: cluster mode/);
  });
});

describe('snapshotTailBytes', () => {
  it('defaults to 8 MiB, takes a size from 64 KiB to 1 GiB, and refuses anything else naming the field', () => {
    // Proves the compaction threshold reaches the configuration and a bad value stops the start.
    expect(parsePlatConfig(base).snapshotTailBytes).toBe(8 * 1024 * 1024);
    expect(parsePlatConfig({ ...base, snapshotTailBytes: 262_144 }).snapshotTailBytes).toBe(262_144);
    for (const bad of [1024, 2 * 1024 * 1024 * 1024, '8M', 1.5])
      expect(() => parsePlatConfig({ ...base, snapshotTailBytes: bad })).toThrow(
        /^snapshotTailBytes: expected a whole number from 65536 to 1073741824/,
      );
  });
});
