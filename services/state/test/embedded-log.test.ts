// The embedded event log gives back, after a reopen, exactly the batches appended per shard in order;
// fences a stale or out-of-order writer and recognises a retried identity; cuts a torn tail record
// (crash mid-write) by its checksum and counts it; and after a snapshot keeps only the snapshot and
// the tail on disk.
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedEventLog } from '../src/embedded-log.js';
import type { EventBatch } from '../src/event-log.js';

const root = mkdtempSync(join(tmpdir(), 'x64-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

function batch(shard: number, sequence: number, bytes: number[], epoch = 0): EventBatch {
  return { shard, epoch, sequence, eventCount: bytes.length, payload: Uint8Array.from(bytes) };
}

async function collect(log: EmbeddedEventLog, shard: number, after = 0) {
  const out: { sequence: number; payload: number[] }[] = [];
  for await (const b of log.read(shard, after)) out.push({ sequence: b.sequence, payload: [...b.payload] });
  return out;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('log-'));
}

describe('embedded event log', () => {
  it('keeps per-shard order and sequence numbers across a reopen', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    const acks = await Promise.all([
      log.append(batch(3, 1, [1])),
      log.append(batch(7, 1, [2])),
      log.append(batch(3, 2, [3, 4])),
    ]);
    expect(acks.map((a) => [a.shard, a.sequence, a.duplicate])).toEqual([
      [3, 1, false],
      [7, 1, false],
      [3, 2, false],
    ]);
    expect(acks[1].position).toBeGreaterThan(acks[0].position);
    await log.stop();

    const again = await EmbeddedEventLog.open(dir);
    expect(again.openReport).toMatchObject({ batches: 3, tornRecords: 0 });
    expect(await again.lastSequence(3)).toBe(2);
    expect(await collect(again, 3)).toEqual([
      { sequence: 1, payload: [1] },
      { sequence: 2, payload: [3, 4] },
    ]);
    expect((await collect(again, 3, 1)).map((b) => b.sequence)).toEqual([2]);
    expect(await collect(again, 9)).toEqual([]);
    expect((await again.append(batch(3, 3, [5]))).sequence).toBe(3);
    await again.stop();
    await expect(again.append(batch(3, 4, [6]))).rejects.toMatchObject({ code: 'XLAT64_ERR_LOG_STOPPED' });
  });

  it('fences a wrong sequence and an older epoch, and answers a retried identity as a duplicate', async () => {
    const log = await EmbeddedEventLog.open(freshDir());
    await log.append(batch(0, 1, [1], 5));
    await expect(log.append(batch(0, 3, [3], 5))).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    await expect(log.append(batch(0, 2, [2], 4))).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    expect(await log.append(batch(0, 1, [1], 5))).toMatchObject({ duplicate: true, sequence: 1 });
    // A newer epoch takes over at last + 1; the old epoch is fenced from then on.
    await log.append(batch(0, 2, [2], 6));
    await expect(log.append(batch(0, 3, [3], 5))).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    expect(await log.lastEpoch(0)).toBe(6);
    await log.stop();
  });

  it('cuts a torn final record (crash mid-write) by its checksum, counts it, and appends after it', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    await log.append(batch(0, 1, [1, 2, 3]));
    await log.append(batch(0, 2, [4, 5, 6]));
    await log.stop();
    const [name] = segments(dir).filter((n) => statSync(join(dir, n)).size > 0);
    const path = join(dir, name);
    const full = statSync(path).size;
    const recordBytes = full / 2;
    truncateSync(path, full - 2); // the second record lost its last two bytes
    const torn = await EmbeddedEventLog.open(dir);
    expect(torn.openReport).toMatchObject({ batches: 1, tornRecords: 1, tornBytes: recordBytes - 2 });
    expect(statSync(path).size).toBe(recordBytes);
    expect(await torn.lastSequence(0)).toBe(1);
    await torn.append(batch(0, 2, [7]));
    await torn.stop();

    // A full-length record whose bytes were not all written (zeros) fails its checksum too.
    const again = await EmbeddedEventLog.open(dir);
    const last = segments(dir).sort().at(-1) as string;
    appendFileSync(join(dir, last), Buffer.from([0, 0, 0, 30, 1, 2, 3, 4, ...new Array(22).fill(0)]));
    await again.stop();
    const third = await EmbeddedEventLog.open(dir);
    expect(third.openReport).toMatchObject({ batches: 2, tornRecords: 1, tornBytes: 30 });
    expect(await collect(third, 0)).toEqual([
      { sequence: 1, payload: [1, 2, 3] },
      { sequence: 2, payload: [7] },
    ]);
    await third.stop();
  });

  it('refuses a damaged record in a segment that is not the last, naming the file and the fix', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    await log.append(batch(0, 1, [1]));
    await log.stop();
    const first = segments(dir).sort()[0];
    const again = await EmbeddedEventLog.open(dir); // opens a second segment
    await again.append(batch(0, 2, [2]));
    await again.stop();
    appendFileSync(join(dir, first), Buffer.from([9, 9, 9]));
    await expect(EmbeddedEventLog.open(dir)).rejects.toMatchObject({
      code: 'XLAT64_ERR_LOG_CORRUPT',
      message: expect.stringMatching(/log-00000001\.bin: damaged record .* move it away/),
    });
  });

  it('after a snapshot keeps only the snapshot and the tail, and reads refuse a start before it', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    for (let s = 1; s <= 5; s++) await log.append(batch(0, s, [s]));
    const before = log.diskBytes();
    await log.put({ shard: 0, epoch: 0, sequence: 5, timeMs: 1234, payload: Uint8Array.from([42, 43]) });
    for (let s = 6; s <= 7; s++) await log.append(batch(0, s, [s]));
    expect(log.counters.deletedSegments).toBe(1);
    expect(segments(dir).length).toBe(1);
    expect(log.diskBytes()).toBeLessThan(before + 39 + 2 + 2 * 27);
    await expect(collect(log, 0, 2)).rejects.toMatchObject({ code: 'XLAT64_ERR_LOG_COMPACTED' });
    expect(await collect(log, 0, 5)).toEqual([
      { sequence: 6, payload: [6] },
      { sequence: 7, payload: [7] },
    ]);
    await log.stop();

    const again = await EmbeddedEventLog.open(dir);
    expect(await again.latest(0)).toMatchObject({ shard: 0, sequence: 5, timeMs: 1234 });
    expect([...((await again.latest(0))?.payload ?? [])]).toEqual([42, 43]);
    expect(await again.lastSequence(0)).toBe(7);
    expect(await again.latest(1)).toBeNull();
    await again.stop();
  });

  it('refuses a damaged snapshot with a clear error instead of restoring from it', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    await log.put({ shard: 0, epoch: 0, sequence: 0, timeMs: 1, payload: Uint8Array.from([1, 2, 3]) });
    await log.stop();
    const path = join(dir, 'snapshot-0.bin');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path, bytes);
    await expect(EmbeddedEventLog.open(dir)).rejects.toMatchObject({
      code: 'XLAT64_ERR_LOG_CORRUPT',
      message: expect.stringMatching(/snapshot-0\.bin: checksum mismatch/),
    });
  });

  it('names the path and the fix when the directory cannot be created', async () => {
    writeFileSync(join(root, 'a-file'), '');
    await expect(EmbeddedEventLog.open(join(root, 'a-file', 'sub'))).rejects.toThrow(
      /cannot create the state directory .*a-file\/sub: ENOTDIR — check stateDir is writable/,
    );
  });
});
