// Single-file bundles (e.g. `npm run bundle:clat`): the bundle is its own queue-worker entry and
// carries its queue handlers inside, since no separate module file exists next to it. Its entry calls
// useBundledWorker() first thing in every thread; queue workers are then started from the bundle's file
// and take their handler from here, looked up by the handler module's file name (queue-handler.js).
import type { CreateQueueHandler } from './handler.js';

interface BundledWorker {
  readonly file: URL;
  readonly handlers: ReadonlyMap<string, CreateQueueHandler>;
}

let bundled: BundledWorker | null = null;

export function useBundledWorker(file: URL, handlers: Record<string, CreateQueueHandler>): void {
  bundled = { file, handlers: new Map(Object.entries(handlers)) };
}

/** The bundle's file when running from one, else null. */
export function bundledWorkerFile(): URL | null {
  return bundled?.file ?? null;
}

/** The handler a bundle carries for `handlerModule` (matched by file name), else null. */
export function bundledHandler(handlerModule: string): CreateQueueHandler | null {
  if (bundled === null) return null;
  const name = handlerModule.slice(handlerModule.lastIndexOf('/') + 1);
  return bundled.handlers.get(name) ?? null;
}
