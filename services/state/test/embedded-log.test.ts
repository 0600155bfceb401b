// The embedded event log gives back, after a restart, exactly the batches appended per shard in
// order, and cuts off a torn last line from a crash instead of misreading it.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedEventLog } from '../src/embedded-log.js';
import type { EventBatch } from '../src/event-log.js';

const dir = mkdtempSync(join(tmpdir(), 'x64-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Ev = { type: string; n: number };

function collect(log: EmbeddedEventLog<Ev>, shard: number, after = 0): EventBatch<Ev>[] {
  const out: EventBatch<Ev>[] = [];
  log.forEach(shard, after, (b) => out.push(b));
  return out;
}

describe('embedded event log', () => {
  it('keeps per-shard order and sequence numbers across a reopen', () => {
    const path = join(dir, 'a.log');
    const log = new EmbeddedEventLog<Ev>(path);
    expect(log.append(3, [{ type: 'x', n: 1 }])).toBe(1);
    expect(log.append(7, [{ type: 'y', n: 2 }])).toBe(1);
    expect(
      log.append(3, [
        { type: 'x', n: 3 },
        { type: 'x', n: 4 },
      ]),
    ).toBe(2);
    log.stop();

    const again = new EmbeddedEventLog<Ev>(path);
    expect(again.openReport).toEqual({ batches: 3, tornBytes: 0 });
    expect(again.lastSequence(3)).toBe(2);
    expect(collect(again, 3).map((b) => b.events.map((e) => e.n))).toEqual([[1], [3, 4]]);
    expect(collect(again, 3, 1).map((b) => b.sequence)).toEqual([2]);
    expect(collect(again, 9)).toEqual([]);
    expect(again.append(3, [{ type: 'x', n: 5 }])).toBe(3);
    again.stop();
  });

  it('cuts a torn final line off the file and reports its size', () => {
    const path = join(dir, 'torn.log');
    const log = new EmbeddedEventLog<Ev>(path);
    log.append(0, [{ type: 'x', n: 1 }]);
    log.stop();
    const good = statSync(path).size;
    appendFileSync(path, '{"shard":0,"sequence":2,"events":[{"ty');
    const again = new EmbeddedEventLog<Ev>(path);
    expect(again.openReport).toEqual({ batches: 1, tornBytes: 38 });
    again.stop();
    expect(statSync(path).size).toBe(good);
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
  });

  it('treats a sequence gap as the end of the valid log', () => {
    const path = join(dir, 'gap.log');
    appendFileSync(path, '{"shard":0,"sequence":1,"events":[]}\n{"shard":0,"sequence":3,"events":[]}\n');
    const log = new EmbeddedEventLog<Ev>(path);
    expect(log.openReport.batches).toBe(1);
    expect(log.lastSequence(0)).toBe(1);
    log.stop();
  });

  it('names the path and the fix when the file cannot be opened', () => {
    expect(() => new EmbeddedEventLog<Ev>(join(dir, 'missing-dir', 'x.log'))).toThrow(
      /cannot open the event log .*missing-dir\/x\.log: ENOENT — check stateDir exists/,
    );
  });
});
