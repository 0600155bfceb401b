// Bench worker for ring.bench.ts: drains one ring as a node's shard owner would (poll a batch, read each
// packet's first and last byte, release), sleeping on the doorbell when empty, until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, RingBatch, RingConsumer } from '../src/index.js';

const data = workerData as {
  ring: { buffer: SharedArrayBuffer; capacityBytes: number };
  bell: SharedArrayBuffer;
  stop: SharedArrayBuffer;
};
const consumer = new RingConsumer(data.ring);
const bell = new Doorbell(data.bell);
const stop = new Int32Array(data.stop);
const batch = new RingBatch(256);
let sum = 0;
while (Atomics.load(stop, 0) === 0) {
  if (consumer.poll(batch) === 0) {
    bell.wait(5);
    continue;
  }
  for (let k = 0; k < batch.count; k++) {
    sum += consumer.data[batch.offsets[k]] + consumer.data[batch.offsets[k] + batch.lengths[k] - 1];
  }
  consumer.release();
}
parentPort!.postMessage({ sum });
