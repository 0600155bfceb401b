// The PLAT's established packet path (flow-key extraction, NAT engine, RFC 7915 rewrite) allocates
// nothing. fixtures/established-allocation.ts opens 512 established TCP and UDP flows through the real
// step and engine, warms up, then sends 3,000,000 packets each way while counting garbage collections.
// One heap number per packet (what a uint32 address above 2^31 becomes when it crosses a call V8 does not
// inline) fills the young generation several times over in that many packets; 0 or 1 collection (one may
// already be due when the loop starts) shows no allocation. Every address is above 2^31 (pool
// 203.0.113.0/28, remotes 198.51.100.0/24). It runs in a plain Node process, as the translator does: this
// runner's module transform changes what V8 inlines (and the packet rate, threefold).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/established-allocation.ts', import.meta.url));

describe('PLAT packet step, established flows', () => {
  it('translates millions of established TCP and UDP packets in each direction without a garbage collection', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, '3000000'], {
      cwd: root,
    });
    const result = JSON.parse(stdout) as Record<string, number>;
    expect(result.sessionsOpened).toBe(512);
    expect(result.sessionsAfter).toBe(512);
    expect(result.translated).toBe(result.packets);
    expect(result.packets).toBe(6_000_000);
    expect(result.outboundCollections).toBeLessThanOrEqual(1);
    expect(result.inboundCollections).toBeLessThanOrEqual(1);
  }, 60_000);
});
