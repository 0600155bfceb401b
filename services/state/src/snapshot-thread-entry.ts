// The snapshot thread's body (snapshot-thread.ts starts it): receives copies of a shard's tables, encodes
// the snapshot (nat-engine's binary format) and sends the bytes back, so the encoding, which takes about
// a second at 1,000,000 sessions, never runs on the packet worker.
import { parentPort } from 'node:worker_threads';
import { adoptNatStateTables, type NatStateTables, snapshotNatState } from '../../nat-engine/src/index.js';

interface Request {
  id: number;
  tables: NatStateTables;
  timeMs: number;
}

parentPort?.on('message', (request: Request) => {
  try {
    const bytes = snapshotNatState(adoptNatStateTables(request.tables), request.timeMs);
    // The table copies go back too: the next snapshot copies into them (already-touched pages).
    const spare = request.tables.buffers;
    parentPort?.postMessage({ id: request.id, bytes, spare }, [bytes.buffer as ArrayBuffer, ...spare]);
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: (error as Error).message });
  }
});
