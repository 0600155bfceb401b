// The PLAT's established packet path (flow-key extraction, NAT engine, RFC 7915 rewrite) allocates
// nothing. fixtures/established-allocation.ts opens 512 established TCP and UDP flows through the real
// step and engine, warms up, then sends 2,000,000 packets each way, 3 rounds, while counting garbage collections
// (the least of the rounds counts: the optimiser compiles in the background, later under load).
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
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, '2000000'], {
      cwd: root,
    });
    const result = JSON.parse(stdout) as {
      sessionsOpened: number;
      sessionsAfter: number;
      translated: number;
      packets: number;
      outboundCollections: number[];
      inboundCollections: number[];
    };
    expect(result.sessionsOpened).toBe(512);
    expect(result.sessionsAfter).toBe(512);
    expect(result.packets).toBe(12_000_000);
    expect(result.translated).toBe(result.packets);
    // Per round of 2M packets; the least of 3 rounds (see the fixture).
    expect(Math.min(...result.outboundCollections)).toBeLessThanOrEqual(1);
    expect(Math.min(...result.inboundCollections)).toBeLessThanOrEqual(1);
  }, 60_000);
});
