// The embedded event log (DESIGN.md "Embedded mode"): one directory (stateDir) holding binary log
// segments `log-<n>.bin` and one snapshot per shard `snapshot-<shard>.bin`. A record is
// [length u32][crc32 u32][shard u32][epoch u32][sequence u48][eventCount u32][payload], the CRC over
// everything after itself, so a record torn by a crash mid-write fails its checksum and is cut off (and
// counted) on open, never misread. Appends are group-committed (one write + fdatasync per event-loop
// turn, off the calling thread); `put(snapshot)` rotates the segment and deletes every segment whose
// batches the snapshots cover, so disk = last snapshot + tail. Memory holds only what is not yet durable.
import assert from 'node:assert/strict';
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StateError } from './errors.js';
import type { AppendAck, EventBatch, EventLog, ShardSnapshot, SnapshotStore } from './event-log.js';

/** Bytes of a record before its payload. */
export const LOG_RECORD_HEADER_BYTES = 26;
const SNAPSHOT_MAGIC = 0x58363453; // "X64S"
const SNAPSHOT_FORMAT_VERSION = 1;
const SNAPSHOT_HEADER_BYTES = 39;
/** A record longer than this is framing damage, not data (a batch is at most a few MB). */
const RECORD_BYTES_MAX = 256 * 1024 * 1024;
/** Identities of this many recent batches per shard are kept to recognise a retried append. */
const RECENT_BATCHES = 256;

export interface EmbeddedLogOpenReport {
  segments: number;
  batches: number;
  /** Records cut off the end of the last segment because they were incomplete or failed their checksum. */
  tornRecords: number;
  tornBytes: number;
}

interface ShardIndex {
  /** Durable last sequence and epoch. */
  lastSequence: number;
  lastEpoch: number;
  /** Last sequence accepted (queued or durable): the next append must be acceptedSequence + 1. */
  acceptedSequence: number;
  acceptedEpoch: number;
  /** Sequence covered by the stored snapshot (0 without one): batches up to it may be gone. */
  snapshotSequence: number;
  recentEpochs: Float64Array;
}

interface Segment {
  readonly number: number;
  readonly path: string;
  /** Highest sequence per shard written into the segment. */
  readonly lastSequenceByShard: Map<number, number>;
}

interface QueuedAppend {
  readonly batch: EventBatch;
  readonly resolve: (ack: AppendAck) => void;
  readonly reject: (error: unknown) => void;
}

export class EmbeddedEventLog implements EventLog, SnapshotStore {
  private readonly shards = new Map<number, ShardIndex>();
  private readonly segments: Segment[] = [];
  private handle: FileHandle | null = null;
  private fileBytes = 0;
  private queue: QueuedAppend[] = [];
  private writing: Promise<void> | null = null;
  private rotateRequested = false;
  private stopped = false;
  readonly openReport: EmbeddedLogOpenReport;
  /** Counters for status: torn records cut on open, group commits, bytes written. */
  readonly counters = { tornRecords: 0, tornBytes: 0, commits: 0, writtenBytes: 0, deletedSegments: 0 };

  private constructor(readonly directory: string) {
    this.openReport = this.load();
  }

  /** Opens (creating) the log in `directory`, cutting off a torn tail, and starts a fresh segment. */
  static async open(directory: string): Promise<EmbeddedEventLog> {
    try {
      mkdirSync(directory, { recursive: true });
    } catch (error) {
      throw new StateError(
        'XLAT64_ERR_EVENT_LOG',
        `cannot create the state directory ${directory}: ${(error as NodeJS.ErrnoException).code} — check stateDir is writable`,
        { cause: error },
      );
    }
    const log = new EmbeddedEventLog(directory);
    await log.openSegment();
    return log;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes on disk: snapshots plus segments. */
  diskBytes(): number {
    let total = 0;
    for (const name of readdirSync(this.directory)) {
      if (isLogFile(name)) total += statSync(join(this.directory, name)).size;
    }
    return total;
  }

  append(batch: EventBatch): Promise<AppendAck> {
    if (this.stopped) return Promise.reject(stoppedError());
    assert.ok(
      Number.isInteger(batch.shard) && batch.shard >= 0 && batch.shard <= 0xffffffff,
      'shard is a uint32',
    );
    assert.ok(Number.isInteger(batch.sequence) && batch.sequence >= 1, 'sequence is from 1');
    assert.ok(
      batch.eventCount >= 0 && batch.payload.byteLength + LOG_RECORD_HEADER_BYTES <= RECORD_BYTES_MAX,
    );
    const shard = this.shardIndex(batch.shard);
    if (batch.sequence <= shard.lastSequence && batch.epoch === shard.lastEpoch) {
      const known =
        batch.sequence > shard.lastSequence - RECENT_BATCHES &&
        shard.recentEpochs[batch.sequence % RECENT_BATCHES] === batch.epoch;
      if (known) return Promise.resolve({ ...identityOf(batch), position: -1, duplicate: true });
    }
    if (batch.epoch < shard.acceptedEpoch) {
      return Promise.reject(
        new StateError(
          'XLAT64_ERR_FENCED',
          `shard ${batch.shard}: epoch ${batch.epoch} is older than epoch ${shard.acceptedEpoch} already in the log`,
        ),
      );
    }
    if (batch.sequence !== shard.acceptedSequence + 1) {
      return Promise.reject(
        new StateError(
          'XLAT64_ERR_FENCED',
          `shard ${batch.shard}: sequence ${batch.sequence} is not the log's last ${shard.acceptedSequence} + 1`,
        ),
      );
    }
    shard.acceptedSequence = batch.sequence;
    shard.acceptedEpoch = batch.epoch;
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.scheduleWrite();
    });
  }

  async *read(shard: number, afterSequence: number): AsyncIterable<EventBatch> {
    if (this.stopped) throw stoppedError();
    const index = this.shards.get(shard);
    if (index === undefined) return;
    if (afterSequence < index.snapshotSequence && this.firstSequenceOf(shard) > afterSequence + 1) {
      throw new StateError(
        'XLAT64_ERR_LOG_COMPACTED',
        `shard ${shard}: batches up to ${index.snapshotSequence} were compacted into the snapshot; read from ${index.snapshotSequence}`,
      );
    }
    let expected = afterSequence + 1;
    for (const segment of [...this.segments]) {
      const last = segment.lastSequenceByShard.get(shard);
      if (last === undefined || last < expected) continue;
      const bytes = readSegment(segment.path);
      for (const record of records(bytes, bytes.length)) {
        if (record.batch === null) break;
        const batch = record.batch;
        if (batch.shard !== shard || batch.sequence < expected) continue;
        if (batch.sequence !== expected) {
          throw new StateError(
            'XLAT64_ERR_LOG_CORRUPT',
            `shard ${shard}: ${segment.path} holds sequence ${batch.sequence} where ${expected} was expected`,
          );
        }
        expected++;
        yield batch;
      }
    }
  }

  lastSequence(shard: number): Promise<number> {
    return Promise.resolve(this.shards.get(shard)?.lastSequence ?? 0);
  }

  lastEpoch(shard: number): Promise<number> {
    return Promise.resolve(this.shards.get(shard)?.lastEpoch ?? 0);
  }

  async put(snapshot: ShardSnapshot): Promise<void> {
    if (this.stopped) throw stoppedError();
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    header.writeUInt32BE(SNAPSHOT_MAGIC, 0);
    header.writeUInt8(SNAPSHOT_FORMAT_VERSION, 4);
    header.writeUInt32BE(snapshot.shard, 5);
    header.writeUInt32BE(snapshot.epoch, 9);
    header.writeUIntBE(snapshot.sequence, 13, 6);
    header.writeDoubleBE(snapshot.timeMs, 19);
    header.writeUInt32BE(snapshot.payload.byteLength, 27);
    header.writeUInt32BE(crc32(snapshot.payload, crc32(header.subarray(0, 31))), 31);
    header.writeUInt32BE(0, 35);
    const path = snapshotPath(this.directory, snapshot.shard);
    const temporary = `${path}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.write(header);
      await file.write(snapshot.payload);
      await file.sync();
    } finally {
      await file.close();
    }
    renameSync(temporary, path);
    syncDirectory(this.directory);
    this.shardIndex(snapshot.shard).snapshotSequence = snapshot.sequence;
    // Start a new segment at the next write and delete the ones the snapshots now cover.
    this.rotateRequested = true;
    this.scheduleWrite();
    await this.writing;
    this.deleteCoveredSegments();
  }

  async latest(shard: number): Promise<ShardSnapshot | null> {
    const path = snapshotPath(this.directory, shard);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StateError('XLAT64_ERR_LOG_UNAVAILABLE', `cannot read ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return parseSnapshot(path, bytes);
  }

  /** Resolves once everything appended so far is durable. */
  async flush(): Promise<void> {
    while (this.writing !== null || this.queue.length > 0) {
      this.scheduleWrite();
      await this.writing;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.flush();
    this.stopped = true;
    await this.handle?.close();
    this.handle = null;
  }

  private shardIndex(shard: number): ShardIndex {
    let index = this.shards.get(shard);
    if (index === undefined) {
      index = {
        lastSequence: 0,
        lastEpoch: 0,
        acceptedSequence: 0,
        acceptedEpoch: 0,
        snapshotSequence: 0,
        recentEpochs: new Float64Array(RECENT_BATCHES).fill(-1),
      };
      this.shards.set(shard, index);
    }
    return index;
  }

  private firstSequenceOf(shard: number): number {
    const index = this.shards.get(shard);
    if (index === undefined) return 1;
    // Segments are in order; the first holding the shard starts after the previous one's last.
    const previousLast = index.snapshotSequence;
    for (const segment of this.segments) {
      const last = segment.lastSequenceByShard.get(shard);
      if (last !== undefined) return previousLast + 1;
    }
    return previousLast + 1;
  }

  /** Indexes snapshots and segments; a torn tail of the last segment is cut off and counted. */
  private load(): EmbeddedLogOpenReport {
    const names = readdirSync(this.directory);
    for (const name of names) {
      const match = /^snapshot-(\d+)\.bin$/.exec(name);
      if (match === null) continue;
      const snapshot = parseSnapshot(join(this.directory, name), readFileSync(join(this.directory, name)));
      const index = this.shardIndex(snapshot.shard);
      index.snapshotSequence = snapshot.sequence;
      index.lastSequence = index.acceptedSequence = snapshot.sequence;
      index.lastEpoch = index.acceptedEpoch = snapshot.epoch;
    }
    const numbers = names
      .map((name) => /^log-(\d+)\.bin$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let batches = 0;
    for (let i = 0; i < numbers.length; i++) {
      const path = segmentPath(this.directory, numbers[i]);
      const bytes = readSegment(path);
      const segment: Segment = { number: numbers[i], path, lastSequenceByShard: new Map() };
      let goodBytes = 0;
      for (const record of records(bytes, bytes.length)) {
        if (record.batch === null) break;
        const batch = record.batch;
        const index = this.shardIndex(batch.shard);
        if (batch.sequence <= index.snapshotSequence) {
          goodBytes = record.end;
          continue; // already in the snapshot
        }
        if (batch.sequence !== index.lastSequence + 1 || batch.epoch < index.lastEpoch) break;
        this.indexDurable(batch);
        segment.lastSequenceByShard.set(batch.shard, batch.sequence);
        batches++;
        goodBytes = record.end;
      }
      if (goodBytes < bytes.length) {
        if (i !== numbers.length - 1) {
          throw new StateError(
            'XLAT64_ERR_LOG_CORRUPT',
            `${path}: damaged record at byte ${goodBytes} in a segment that is not the last — restore ${this.directory} from a backup or move it away to start empty`,
          );
        }
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, goodBytes);
        fsyncSync(fd);
        closeSync(fd);
        this.counters.tornRecords++;
        this.counters.tornBytes += bytes.length - goodBytes;
      }
      this.segments.push(segment);
    }
    return {
      segments: numbers.length,
      batches,
      tornRecords: this.counters.tornRecords,
      tornBytes: this.counters.tornBytes,
    };
  }

  private indexDurable(batch: { shard: number; epoch: number; sequence: number }): void {
    const index = this.shardIndex(batch.shard);
    index.lastSequence = batch.sequence;
    index.lastEpoch = batch.epoch;
    index.acceptedSequence = Math.max(index.acceptedSequence, batch.sequence);
    index.acceptedEpoch = Math.max(index.acceptedEpoch, batch.epoch);
    index.recentEpochs[batch.sequence % RECENT_BATCHES] = batch.epoch;
  }

  private async openSegment(): Promise<void> {
    const lastSegment = this.segments.at(-1);
    if (this.handle === null && lastSegment !== undefined && statSync(lastSegment.path).size === 0) {
      // Reopened with an empty last segment (a restart before any write): append to it.
      this.handle = await open(lastSegment.path, 'a');
      this.fileBytes = 0;
      return;
    }
    const number = this.segments.length === 0 ? 1 : this.segments[this.segments.length - 1].number + 1;
    const path = segmentPath(this.directory, number);
    await this.handle?.close();
    this.handle = await open(path, 'a');
    this.fileBytes = 0;
    this.segments.push({ number, path, lastSequenceByShard: new Map() });
    syncDirectory(this.directory);
  }

  private scheduleWrite(): void {
    if (this.writing !== null) return;
    this.writing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.writeQueued());
  }

  /** One group commit: every queued record in one write, one fdatasync, then the acks in order. */
  private async writeQueued(): Promise<void> {
    try {
      if (this.rotateRequested) {
        this.rotateRequested = false;
        if (this.fileBytes > 0) await this.openSegment();
      }
      const queued = this.queue;
      this.queue = [];
      if (queued.length === 0 || this.handle === null) return;
      let total = 0;
      for (const q of queued) total += LOG_RECORD_HEADER_BYTES + q.batch.payload.byteLength;
      const bytes = Buffer.allocUnsafe(total);
      const positions: number[] = [];
      let offset = 0;
      for (const q of queued) {
        positions.push(this.fileBytes + offset);
        offset = encodeRecord(q.batch, bytes, offset);
      }
      const segment = this.segments[this.segments.length - 1];
      try {
        await this.handle.write(bytes, 0, total);
        await this.handle.datasync();
      } catch (error) {
        // Cut a partial write back so the next group starts on a record boundary.
        await this.handle.truncate(this.fileBytes).catch(() => {});
        for (const q of queued) {
          const index = this.shardIndex(q.batch.shard);
          index.acceptedSequence = index.lastSequence;
          index.acceptedEpoch = index.lastEpoch;
        }
        const failure = new StateError(
          'XLAT64_ERR_LOG_UNAVAILABLE',
          `cannot write ${segment.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          { cause: error },
        );
        for (const q of queued) q.reject(failure);
        return;
      }
      this.fileBytes += total;
      this.counters.commits++;
      this.counters.writtenBytes += total;
      for (let i = 0; i < queued.length; i++) {
        const batch = queued[i].batch;
        this.indexDurable(batch);
        segment.lastSequenceByShard.set(batch.shard, batch.sequence);
        queued[i].resolve({ ...identityOf(batch), position: positions[i], duplicate: false });
      }
    } finally {
      this.writing = null;
      if (this.queue.length > 0 || this.rotateRequested) this.scheduleWrite();
    }
  }

  private deleteCoveredSegments(): void {
    // Every segment but the current one whose batches all lie within their shard's snapshot goes.
    for (let i = 0; i < this.segments.length - 1; ) {
      const segment = this.segments[i];
      let covered = true;
      for (const [shard, last] of segment.lastSequenceByShard) {
        if (last > (this.shards.get(shard)?.snapshotSequence ?? 0)) covered = false;
      }
      if (!covered) {
        i++;
        continue;
      }
      unlinkSync(segment.path);
      this.segments.splice(i, 1);
      this.counters.deletedSegments++;
    }
    syncDirectory(this.directory);
  }
}

function identityOf(batch: EventBatch): { shard: number; epoch: number; sequence: number } {
  return { shard: batch.shard, epoch: batch.epoch, sequence: batch.sequence };
}

function stoppedError(): StateError {
  return new StateError('XLAT64_ERR_LOG_STOPPED', 'the embedded event log was stopped');
}

function segmentPath(directory: string, number: number): string {
  return join(directory, `log-${String(number).padStart(8, '0')}.bin`);
}

export function snapshotPath(directory: string, shard: number): string {
  return join(directory, `snapshot-${shard}.bin`);
}

function isLogFile(name: string): boolean {
  return /^(log-\d+|snapshot-\d+)\.bin$/.test(name);
}

function readSegment(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StateError('XLAT64_ERR_LOG_UNAVAILABLE', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes one record at `offset`; returns the offset after it. */
export function encodeRecord(batch: EventBatch, out: Buffer, offset: number): number {
  const length = LOG_RECORD_HEADER_BYTES + batch.payload.byteLength;
  out.writeUInt32BE(length, offset);
  out.writeUInt32BE(batch.shard, offset + 8);
  out.writeUInt32BE(batch.epoch, offset + 12);
  out.writeUIntBE(batch.sequence, offset + 16, 6);
  out.writeUInt32BE(batch.eventCount, offset + 22);
  out.set(batch.payload, offset + LOG_RECORD_HEADER_BYTES);
  out.writeUInt32BE(crc32(out.subarray(offset + 8, offset + length)), offset + 4);
  return offset + length;
}

export interface RecordRead {
  /** null: the record at this position is incomplete or fails its checksum (a torn tail). */
  batch: EventBatch | null;
  end: number;
}

/** Reads records from the start of `bytes`; stops after yielding a null batch (also used by the compliance tail). */
export function* records(bytes: Buffer, length: number): Generator<RecordRead> {
  let offset = 0;
  while (offset < length) {
    if (length - offset < LOG_RECORD_HEADER_BYTES) {
      yield { batch: null, end: offset };
      return;
    }
    const recordBytes = bytes.readUInt32BE(offset);
    if (
      recordBytes < LOG_RECORD_HEADER_BYTES ||
      recordBytes > RECORD_BYTES_MAX ||
      offset + recordBytes > length ||
      crc32(bytes.subarray(offset + 8, offset + recordBytes)) !== bytes.readUInt32BE(offset + 4)
    ) {
      yield { batch: null, end: offset };
      return;
    }
    const batch: EventBatch = {
      shard: bytes.readUInt32BE(offset + 8),
      epoch: bytes.readUInt32BE(offset + 12),
      sequence: bytes.readUIntBE(offset + 16, 6),
      eventCount: bytes.readUInt32BE(offset + 22),
      payload: bytes.subarray(offset + LOG_RECORD_HEADER_BYTES, offset + recordBytes),
    };
    offset += recordBytes;
    yield { batch, end: offset };
  }
}

function parseSnapshot(path: string, bytes: Buffer): ShardSnapshot {
  const corrupt = (what: string) =>
    new StateError(
      'XLAT64_ERR_LOG_CORRUPT',
      `${path}: ${what} — the snapshot cannot be used; move it away to start from the log alone`,
    );
  if (bytes.length < SNAPSHOT_HEADER_BYTES || bytes.readUInt32BE(0) !== SNAPSHOT_MAGIC)
    throw corrupt('not a snapshot file');
  if (bytes.readUInt8(4) !== SNAPSHOT_FORMAT_VERSION)
    throw corrupt(`snapshot file format ${bytes.readUInt8(4)} is not ${SNAPSHOT_FORMAT_VERSION}`);
  const payloadBytes = bytes.readUInt32BE(27);
  if (bytes.length !== SNAPSHOT_HEADER_BYTES + payloadBytes)
    throw corrupt('length does not match its header');
  const payload = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (crc32(payload, crc32(bytes.subarray(0, 31))) !== bytes.readUInt32BE(31))
    throw corrupt('checksum mismatch');
  return {
    shard: bytes.readUInt32BE(5),
    epoch: bytes.readUInt32BE(9),
    sequence: bytes.readUIntBE(13, 6),
    timeMs: bytes.readDoubleBE(19),
    payload,
  };
}

/**
 * The sequence a shard's stored snapshot covers, read from its header alone (0 without one): for a
 * reader in another thread that tails the log (the compliance outbox) and must know where compaction cut.
 * The snapshot is replaced by rename, so the header read is always of one whole file.
 */
export function snapshotSequenceOf(directory: string, shard: number): number {
  const path = snapshotPath(directory, shard);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new StateError('XLAT64_ERR_LOG_UNAVAILABLE', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    const read = readSync(fd, header, 0, SNAPSHOT_HEADER_BYTES, 0);
    if (read !== SNAPSHOT_HEADER_BYTES || header.readUInt32BE(0) !== SNAPSHOT_MAGIC) {
      throw new StateError('XLAT64_ERR_LOG_CORRUPT', `${path}: not a snapshot file`);
    }
    return header.readUIntBE(13, 6);
  } finally {
    closeSync(fd);
  }
}
