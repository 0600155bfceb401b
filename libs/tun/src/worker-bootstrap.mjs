// Starts a TypeScript queue worker on Node 20, where a Worker cannot load a .ts file itself: registers
// tsx's ESM loader in this thread, then imports the real entry (workerData.entry). Only used when
// libs/tun runs from its .ts sources (vitest, tsx) or the handler module is .ts.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
