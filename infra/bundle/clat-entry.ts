// Entry of the single-file CLAT bundle (`npm run bundle:clat`, see bundle-clat.mjs): an edge device
// runs `node xlat64-clat.mjs [clat options]` (or `... status [options]`) with the two addons next to
// the file and no checkout. The same file is the queue workers' entry: in a worker it runs libs/tun's
// queue loop with the CLAT's handler, which the bundle carries. Everything else loads on demand.
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { useBundledWorker } from '../../libs/tun/src/bundled.js';
import { createQueueHandler } from '../../services/clat/src/queue-handler.js';

process.env.XLAT64_TUN_ADDON ??= fileURLToPath(new URL('./xlat64_tun.node', import.meta.url));
process.env.XLAT64_ICMPV6_ADDON ??= fileURLToPath(new URL('./xlat64_icmpv6.node', import.meta.url));
useBundledWorker(new URL(import.meta.url), { 'queue-handler.js': createQueueHandler });

if (isMainThread) {
  const argv = process.argv.slice(2);
  const { statusCommand } = await import('../../services/cli/src/status.js');
  const { clatCommand } = await import('../../services/cli/src/clat.js');
  const [command, args] = argv[0] === 'status' ? [statusCommand, argv.slice(1)] : [clatCommand, argv];
  try {
    process.exitCode = await command.run(args);
  } catch (error) {
    if (!(error instanceof Error && 'code' in error)) throw error;
    process.stderr.write(`xlat64-clat: ${error.message}\n`);
    process.exitCode = 2;
  }
} else {
  await import('../../libs/tun/src/queue-worker.js');
}
