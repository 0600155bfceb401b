// The CLAT's TUN queue handler module: libs/tun loads it inside each queue's worker thread, where
// it translates every batch in place and writes the results back to the same queue.

import { BatchTranslator, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import type { CreateQueueHandler, QueueContext, QueueHandler } from '../../../libs/tun/src/index.js';
import type { TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import { ClatStep, clatDropNames } from './step.js';

export interface ClatQueueOptions {
  translator: TranslatorConfigInput;
  ipv6Address: string;
  mtu6: number;
  mtu4: number;
  /** One counter block per queue, indexed by queue. */
  counters: SharedArrayBuffer[];
}

export const createQueueHandler: CreateQueueHandler = (context: QueueContext): QueueHandler => {
  const options = context.options as ClatQueueOptions;
  const layout = roleCounterLayout(clatDropNames);
  const step = new ClatStep({ translator: options.translator, ipv6Address: options.ipv6Address }, layout);
  const batch = new BatchTranslator(step, {
    fd: context.fd,
    writer: context.tun,
    vnetHdrBytes: context.vnetHdrBytes,
    mtu6: options.mtu6,
    mtu4: options.mtu4,
    counters: new Float64Array(options.counters[context.queueIndex]),
    layout,
  });
  return {
    onBatch: (buffer, offsets, lengths, count) => batch.onBatch(buffer, offsets, lengths, count),
  };
};
