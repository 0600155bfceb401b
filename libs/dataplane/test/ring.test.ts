// The shared-memory packet ring: packets of every length and source alignment cross unchanged and in
// order, within a thread and between real worker threads (both directions, wrap-around many times over),
// a full ring refuses and counts instead of overwriting, and bad options are refused with the fix.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  createRingMemory,
  DataplaneError,
  Doorbell,
  RING_PACKET_BYTES_MAX,
  RingBatch,
  RingConsumer,
  RingProducer,
  readRingStats,
} from '../src/index.js';
import { checkPacket, fillPacket, packetLength } from './fixtures/ring-pattern.js';

const bootstrap = new URL('./fixtures/worker-bootstrap.mjs', import.meta.url);
const workerEntry = new URL('./fixtures/ring-worker.ts', import.meta.url).href;

function runWorker(data: Record<string, unknown>): { worker: Worker; done: Promise<{ refused: number }> } {
  const worker = new Worker(fileURLToPath(bootstrap), { workerData: { ...data, entry: workerEntry } });
  const done = new Promise<{ refused: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { worker, done };
}

describe('packet ring in one thread', () => {
  it('carries packets of 1-1600 bytes from every source alignment unchanged, with their tags, across many wrap-arounds', () => {
    // Proves record framing (length, pad, tag), the word copy's alignment handling and the skip record at
    // the ring's end: a 4 KiB ring wraps every few packets, and every byte is checked.
    const memory = createRingMemory(4096);
    const producer = new RingProducer(memory);
    const consumer = new RingConsumer(memory);
    const batch = new RingBatch(16);
    const source = new Uint8Array(2048);
    let next = 0;
    for (let sequence = 0; sequence < 5000; sequence++) {
      const start = sequence % 7;
      const length = packetLength(sequence);
      fillPacket(source, start, length, sequence);
      if (!producer.push(source, start, length, sequence)) {
        // Full: drain what is there, then the packet must fit.
        producer.publish();
        while (consumer.poll(batch) > 0) {
          for (let k = 0; k < batch.count; k++) {
            expect(batch.tags[k]).toBe(next);
            expect(checkPacket(consumer.data, batch.offsets[k], batch.lengths[k], next)).toBe(-1);
            next++;
          }
          consumer.release();
        }
        expect(producer.push(source, start, length, sequence)).toBe(true);
      }
      if (sequence % 3 === 2) producer.publish();
    }
    producer.publish();
    while (consumer.poll(batch) > 0) {
      for (let k = 0; k < batch.count; k++) {
        expect(batch.tags[k]).toBe(next);
        expect(checkPacket(consumer.data, batch.offsets[k], batch.lengths[k], next)).toBe(-1);
        next++;
      }
      consumer.release();
    }
    expect(next).toBe(5000);
    const stats = readRingStats(memory);
    expect(stats.consumed).toBe(5000);
    expect(stats.usedBytes).toBe(0);
  });

  it('shows nothing before publish, and everything pushed after one publish', () => {
    // Proves the batch contract: the consumer cannot see a half-written batch.
    const memory = createRingMemory(1 << 16);
    const producer = new RingProducer(memory);
    const consumer = new RingConsumer(memory);
    const batch = new RingBatch(64);
    const source = new Uint8Array(100).fill(7);
    for (let i = 0; i < 10; i++) producer.push(source, 0, 60, i);
    expect(consumer.hasData()).toBe(false);
    expect(consumer.poll(batch)).toBe(0);
    producer.publish();
    expect(consumer.hasData()).toBe(true);
    expect(consumer.poll(batch)).toBe(10);
    expect(Array.from(batch.tags.subarray(0, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses and counts packets when full instead of overwriting unreleased ones, and takes them again after release', () => {
    // Proves the bound: a full ring never overwrites a record the consumer still holds.
    const memory = createRingMemory(4096);
    const producer = new RingProducer(memory);
    const consumer = new RingConsumer(memory);
    const batch = new RingBatch(256);
    const source = new Uint8Array(256);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      fillPacket(source, 0, 100, i);
      if (producer.push(source, 0, 100, i)) accepted++;
      else refused++;
    }
    producer.publish();
    expect(accepted).toBe(Math.floor(4096 / 108)); // 8-byte header + 100 bytes per record
    expect(refused).toBe(200 - accepted);
    expect(readRingStats(memory).dropped).toBe(refused);
    expect(consumer.poll(batch)).toBe(accepted);
    // Still held: nothing more fits, and the held records are intact.
    fillPacket(source, 0, 100, 999);
    expect(producer.push(source, 0, 100, 999)).toBe(false);
    for (let k = 0; k < accepted; k++) {
      for (let j = 0; j < 100; j++) {
        expect(consumer.data[batch.offsets[k] + j]).toBe((k * 31 + j * 7) & 255);
      }
    }
    consumer.release();
    expect(producer.push(source, 0, 100, 999)).toBe(true);
    expect(readRingStats(memory).dropped).toBe(refused + 1);
  });

  it('tells the producer its free bytes: each pushed record takes its header and packet, a release gives them back', () => {
    // Proves freeBytes is what a pacing reader can trust: a batch of that many bytes fits, and released space returns.
    const memory = createRingMemory(4096);
    const producer = new RingProducer(memory);
    const consumer = new RingConsumer(memory);
    const batch = new RingBatch(64);
    const source = new Uint8Array(128);
    expect(producer.freeBytes()).toBe(4096);
    for (let i = 0; i < 10; i++) expect(producer.push(source, 0, 100, i)).toBe(true);
    expect(producer.freeBytes()).toBe(4096 - 10 * 108);
    producer.publish();
    expect(consumer.poll(batch)).toBe(10);
    // Polled but held: the space is not free yet.
    expect(producer.freeBytes()).toBe(4096 - 10 * 108);
    consumer.release();
    expect(producer.freeBytes()).toBe(4096);
    // Filled to what freeBytes promised (whole records), nothing is refused.
    let pushed = 0;
    while (producer.freeBytes() >= 108 && producer.push(source, 0, 100, pushed)) pushed++;
    expect(readRingStats(memory).dropped).toBe(0);
    expect(producer.freeBytes()).toBeLessThan(108);
  });

  it('counts a packet longer than RING_PACKET_BYTES_MAX as oversize', () => {
    // Proves the per-packet bound is checked before anything is written.
    const memory = createRingMemory(1 << 20);
    const producer = new RingProducer(memory);
    const big = new Uint8Array(RING_PACKET_BYTES_MAX + 1);
    expect(producer.push(big, 0, big.length, 0)).toBe(false);
    expect(readRingStats(memory).oversize).toBe(1);
    expect(readRingStats(memory).dropped).toBe(0);
  });

  it('refuses a capacity that is not a power of two in range, naming the fix', () => {
    // Proves bad options are refused at creation with a typed error.
    expect(() => createRingMemory(5000)).toThrow(DataplaneError);
    expect(() => createRingMemory(5000)).toThrow(/power of two/);
    expect(() => createRingMemory(1024)).toThrow(/from 4096/);
  });
});

describe('packet ring between worker threads', () => {
  it('delivers 20,000 packets of varying length from a worker in order and intact, through a 64 KiB ring', async () => {
    // Proves the cross-thread publication order (Atomics store of the head after the bytes) and the
    // doorbell wake-up: the main thread sleeps on the doorbell and checks every byte.
    const memory = createRingMemory(1 << 16);
    const bell = new Doorbell();
    const count = 20_000;
    const { worker, done } = runWorker({
      mode: 'produce',
      count,
      batch: 64,
      ring: memory,
      bell: bell.buffer,
    });
    try {
      const consumer = new RingConsumer(memory);
      const batch = new RingBatch(128);
      let next = 0;
      let bad = 0;
      const deadline = Date.now() + 50_000;
      while (next < count && Date.now() < deadline) {
        if (consumer.poll(batch) === 0) {
          bell.wait(20);
          continue;
        }
        for (let k = 0; k < batch.count; k++) {
          if (batch.tags[k] !== next) bad++;
          if (checkPacket(consumer.data, batch.offsets[k], batch.lengths[k], next) !== -1) bad++;
          next++;
        }
        consumer.release();
      }
      const { refused } = await done;
      expect(bad).toBe(0);
      expect(next).toBe(count);
      const stats = readRingStats(memory);
      expect(stats.published).toBe(count);
      expect(stats.consumed).toBe(count);
      expect(stats.dropped).toBe(refused);
    } finally {
      await worker.terminate();
    }
  });

  it('round-trips packets main -> worker -> main through two rings, the worker writing from the ring it reads', async () => {
    // Proves both ends in one worker (consumer of one ring, producer of another, pushing straight from the
    // polled bytes, no copy out) and that a producer-side drop while full is counted, not lost silently.
    const toWorker = createRingMemory(1 << 14);
    const fromWorker = createRingMemory(1 << 14);
    const workerBell = new Doorbell();
    const mainBell = new Doorbell();
    const count = 10_000;
    const { worker, done } = runWorker({
      mode: 'echo',
      count,
      batch: 32,
      ring: toWorker,
      out: fromWorker,
      bell: workerBell.buffer,
      outBell: mainBell.buffer,
    });
    try {
      const producer = new RingProducer(toWorker, workerBell);
      const consumer = new RingConsumer(fromWorker);
      const batch = new RingBatch(64);
      const source = new Uint8Array(2048);
      let sent = 0;
      let received = 0;
      let bad = 0;
      let refusedHere = 0;
      const deadline = Date.now() + 50_000;
      while (received < count && Date.now() < deadline) {
        for (let k = 0; k < 16 && sent < count; k++) {
          const length = packetLength(sent);
          fillPacket(source, 3, length, sent);
          if (!producer.push(source, 3, length, sent)) {
            refusedHere++;
            break;
          }
          sent++;
        }
        producer.publish();
        if (consumer.poll(batch) === 0) {
          mainBell.wait(5);
          continue;
        }
        for (let k = 0; k < batch.count; k++) {
          if (batch.tags[k] !== received + 1) bad++;
          if (checkPacket(consumer.data, batch.offsets[k], batch.lengths[k], received) !== -1) bad++;
          received++;
        }
        consumer.release();
      }
      const { refused } = await done;
      expect(bad).toBe(0);
      expect(received).toBe(count);
      expect(readRingStats(toWorker).dropped).toBe(refusedHere);
      expect(readRingStats(fromWorker).dropped).toBe(refused);
    } finally {
      await worker.terminate();
    }
  });
});
