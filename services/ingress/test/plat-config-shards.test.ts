// `xlat64 plat` configuration of the multi-worker node: queues up to QUEUES_MAX, a power-of-two number of
// virtual shards (default 1024), at least one shard per queue; every refusal names the field and the fix.
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../../libs/dataplane/src/index.js';
import { parsePlatConfig, QUEUES_MAX } from '../src/plat-config.js';

const base = { pool4: ['203.0.113.0/24'], stateDir: '/tmp/x64t-config' };

describe('plat configuration: queues and shards', () => {
  it('takes 1 to QUEUES_MAX queues and defaults to 1024 virtual shards', () => {
    // Proves several queues are accepted now (they were refused before the node had shards).
    expect(parsePlatConfig({ ...base }).queues).toBe(1);
    expect(parsePlatConfig({ ...base }).shards).toBe(1024);
    expect(parsePlatConfig({ ...base, queues: 4, shards: 256 })).toMatchObject({ queues: 4, shards: 256 });
    expect(parsePlatConfig({ ...base, queues: String(QUEUES_MAX) }).queues).toBe(QUEUES_MAX);
  });

  it('refuses too many queues, a shard count that is not a power of two, and fewer shards than queues', () => {
    // Proves each bad value is refused at start with the field named.
    const refusal = (raw: Record<string, unknown>) => {
      try {
        parsePlatConfig({ ...base, ...raw });
      } catch (error) {
        expect(error).toBeInstanceOf(DataplaneError);
        return error as DataplaneError;
      }
      throw new Error('accepted');
    };
    expect(refusal({ queues: QUEUES_MAX + 1 }).field).toBe('queues');
    const notPower = refusal({ shards: 1000 });
    expect(notPower.field).toBe('shards');
    expect(notPower.message).toMatch(/power of two/);
    const fewer = refusal({ queues: 4, shards: 2 });
    expect(fewer.field).toBe('shards');
    expect(fewer.message).toMatch(/use 1024/);
  });
});
