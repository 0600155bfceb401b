// Side-by-side candidates for two hot operations of the translator (CONVENTIONS.md 9): moving the
// payload out of a batch buffer into another buffer (byte loop vs subarray+set vs copyBytes, which
// takes the byte loop up to 128 bytes and a view above) and
// fixing the L4 checksum (full recomputation vs the RFC 1624 incremental update), with heap growth.
import { checksumAdjust, checksumFinish, copyBytes, sumWords } from '../src/index.js';

const ROUNDS = 1_000_000;

function measure(name: string, run: () => void): number {
  for (let i = 0; i < 100_000; i++) run();
  (globalThis as { gc?: () => void }).gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) run();
  const ns = Number(process.hrtime.bigint() - start) / ROUNDS;
  const bytes = (process.memoryUsage().heapUsed - heapBefore) / ROUNDS;
  process.stdout.write(`${name.padEnd(44)} ${ns.toFixed(1).padStart(7)} ns  heap ${bytes.toFixed(2)} B/op\n`);
  return ns;
}

export default async function main(): Promise<void> {
  for (const size of [64, 200, 1500]) {
    // The packet sits at an odd place inside a batch buffer, as a TUN read leaves it.
    const batch = new Uint8Array(1 << 16).map((_, i) => i);
    const at = 1234 + 10;
    const output = new Uint8Array(1 << 16);
    process.stdout.write(`copy the L4 part of a ${size}-byte IPv4 packet behind a 40-byte IPv6 header\n`);
    measure('  byte loop', () => {
      for (let i = 20; i < size; i++) output[777 + 20 + i] = batch[at + i];
    });
    measure('  subarray + set (allocates a view)', () =>
      output.set(batch.subarray(at + 20, at + size), 777 + 40),
    );
    measure('  copyBytes', () => copyBytes(batch, at + 20, output, 777 + 40, size - 20));
  }
  const packet = new Uint8Array(1500).map((_, i) => (i * 31) & 255);
  let check = 0x1234;
  process.stdout.write('fix a 1500-byte TCP checksum after an address change\n');
  measure('  full recomputation (sum 1480 bytes)', () => {
    check = checksumFinish(sumWords(packet, 20, 1500, 0x1234));
  });
  measure('  RFC 1624 incremental (sum 32 address bytes)', () => {
    check = checksumAdjust(check, sumWords(packet, 8, 16, 0), sumWords(packet, 16, 24, 0));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
