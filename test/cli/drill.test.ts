// `xlat64 drill`'s target file and report logic: a target is refused naming the bad field and the fix;
// a flow's gap, survival and broken reasons follow from its reply log and the recorder's log; the
// distribution over drills is nearest-rank. (The drill itself runs against a lab in test/e2e/drill.test.ts.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  analyseFlow,
  DrillTargetError,
  distribution,
  parseTarget,
  percentile,
} from '../../services/cli/src/index.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));

function good(): Record<string, unknown> {
  return {
    format: 1,
    nodes: [
      {
        id: 'a',
        netns: 'ns-a',
        pidFile: '/run/a.pid',
        statusSocket: '/run/a.sock',
        command: ['xlat64', 'plat'],
      },
      {
        id: 'b',
        netns: 'ns-b',
        pidFile: '/run/b.pid',
        statusSocket: '/run/b.sock',
        command: ['xlat64', 'plat'],
      },
    ],
    client: { netns: 'client', subscribers: ['2001:db8:1::2'] },
    server: { netns: 'server', ipv4: '198.51.100.2', ipv6: '64:ff9b::c633:6402' },
    nats: [{ url: 'nats://127.0.0.1:4222', pidFile: '/run/nats.pid' }],
    redis: { url: 'redis://127.0.0.1:6379', pidFile: '/run/redis.pid' },
  };
}

function refusal(
  mutate: (doc: Record<string, unknown> & { nodes: Record<string, unknown>[] }) => void,
): string {
  const doc = good() as Record<string, unknown> & { nodes: Record<string, unknown>[] };
  mutate(doc);
  try {
    parseTarget(doc, 'cluster.json');
  } catch (error) {
    expect(error).toBeInstanceOf(DrillTargetError);
    expect((error as DrillTargetError).code).toBe('XLAT64_ERR_DRILL_TARGET');
    return (error as Error).message;
  }
  throw new Error('the target was accepted');
}

describe('drill target file', () => {
  it('accepts a well-formed target and defaults each node log next to its pid file', () => {
    const target = parseTarget(good(), 'cluster.json');
    expect(target.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(target.nodes[0].logFile).toBe('/run/a.pid.drill.log');
    expect(target.redis?.url).toBe('redis://127.0.0.1:6379');
  });

  it('refuses each bad field naming it', () => {
    expect(
      refusal((d) => {
        d.format = 2;
      }),
    ).toContain('format must be 1');
    expect(
      refusal((d) => {
        d.nodes = [];
      }),
    ).toContain('nodes must be a non-empty array');
    expect(
      refusal((d) => {
        d.nodes[1].id = 'a';
      }),
    ).toContain("nodes[1].id 'a' is used twice");
    expect(
      refusal((d) => {
        d.nodes[0].command = 'xlat64 plat';
      }),
    ).toContain('nodes[0].command must be');
    expect(
      refusal((d) => {
        delete d.nodes[1].statusSocket;
      }),
    ).toContain('nodes[1].statusSocket must be');
    expect(
      refusal((d) => {
        d.nodes[0].pidfile = 'x';
      }),
    ).toContain('nodes[0].pidfile is not a known field');
    expect(
      refusal((d) => {
        (d.client as { subscribers: string[] }).subscribers = ['192.0.2.1'];
      }),
    ).toContain('client.subscribers[0] must be an IPv6 address');
    expect(
      refusal((d) => {
        (d.server as { ipv6: string }).ipv6 = 'server';
      }),
    ).toContain('server.ipv6 must be');
    expect(
      refusal((d) => {
        d.nats = [{ url: 'http://x:1', pidFile: '/p' }];
      }),
    ).toContain('nats[0].url must be a nats URL');
    expect(
      refusal((d) => {
        d.redis = { url: 'redis://127.0.0.1:6379' };
      }),
    ).toContain('redis.pidFile must be');
  });

  it('xlat64 drill refuses a file that is not JSON and a fault it does not know (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x64t-drill-'));
    writeFileSync(join(dir, 'bad.json'), '{ format: 1');
    const notJson = spawnSync(
      process.execPath,
      [bin, 'drill', '--target', join(dir, 'bad.json'), '--node', 'a', '--fault', 'kill'],
      {
        encoding: 'utf8',
      },
    );
    expect(notJson.status).toBe(2);
    expect(notJson.stderr).toContain('bad.json: not JSON');
    writeFileSync(join(dir, 'good.json'), JSON.stringify(good()));
    const unknown = spawnSync(
      process.execPath,
      [bin, 'drill', '--target', join(dir, 'good.json'), '--node', 'a', '--fault', 'reboot'],
      {
        encoding: 'utf8',
      },
    );
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('--fault reboot: give one of kill, stop, partition-state');
    rmSync(dir, { recursive: true });
  });
});

describe('drill flow analysis', () => {
  const spec = { id: 't0', proto: 'tcp' as const, source: '2001:db8:1::2' };
  const peer = '203.0.113.7:40000';
  const recorded = [{ flow: 't0', proto: 'tcp' as const, peer: '203.0.113.7', port: 40000, t: 0 }];
  const replies = (times: number[], p = peer) => times.map((t, n) => ({ flow: 't0', t, n, peer: p }));

  it('measures the gap from the last reply before the fault to the first after it, and counts a survivor', () => {
    const report = analyseFlow(spec, replies([100, 150, 200, 950, 1000, 1050]), recorded, 210, 1060, 1000);
    expect(report.gapMs).toBe(750);
    expect(report.survived).toBe(true);
    expect(report.repliesBefore).toBe(3);
    expect(report.repliesAfter).toBe(3);
    expect(report.serverSaw).toEqual([peer]);
  });

  it('counts a flow that stops answering later as a gap up to the end of the drill', () => {
    const report = analyseFlow(spec, replies([100, 150, 300, 350]), recorded, 200, 2350, 5000);
    expect(report.gapMs).toBe(2000);
  });

  it('names why a flow broke: no reply after the fault, a reset, a second source at the server', () => {
    const silent = analyseFlow(spec, replies([100, 150]), recorded, 200, 3000, 1000);
    expect(silent.survived).toBe(false);
    expect(silent.gapMs).toBeNull();
    expect(silent.broken).toContain('no reply after the fault');

    // A reply already in flight when the node died is not survival: the flow is silent at the end.
    const inFlight = analyseFlow(spec, replies([100, 150, 210]), recorded, 200, 3210, 1000);
    expect(inFlight.survived).toBe(false);
    expect(inFlight.gapMs).toBe(3000);
    expect(inFlight.broken).toContain('no reply in the last 3000 ms');

    const reset = analyseFlow(
      spec,
      [...replies([100, 150, 400]), { flow: 't0', t: 450, event: 'error', code: 'ECONNRESET' }],
      recorded,
      200,
      500,
      1000,
    );
    expect(reset.survived).toBe(false);
    expect(reset.resets).toBe(1);
    expect(reset.broken).toContain('1 reset(s)');

    const moved = analyseFlow(
      spec,
      [...replies([100, 150]), ...replies([400, 450], '203.0.113.7:41000')],
      [...recorded, { flow: 't0', proto: 'tcp', peer: '203.0.113.7', port: 41000, t: 400 }],
      200,
      500,
      1000,
    );
    expect(moved.survived).toBe(false);
    expect(moved.serverSaw).toEqual([peer, '203.0.113.7:41000']);
    expect(moved.broken).toContain('server saw 203.0.113.7:40000 and 203.0.113.7:41000');
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(distribution([30, 10, 20])).toEqual({ count: 3, p50: 20, p99: 30, max: 30 });
    expect(distribution([])).toEqual({ count: 0, p50: null, p99: null, max: null });
  });
});
