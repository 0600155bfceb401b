// The CLAT's TUN queue handler module: libs/tun loads it inside each queue's worker thread, where
// it translates every batch in place and writes the results back to the same queue. Before each
// batch it checks the shared PREF64 slot (one atomic load) and swaps its translators when the main
// thread has published a new prefix, so a prefix change needs no restart.
import { BatchTranslator } from '../../../libs/dataplane/src/index.js';
import type { CreateQueueHandler, QueueContext, QueueHandler } from '../../../libs/tun/src/index.js';
import type { TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import { formatIpv6Address } from '../../../libs/xlat/src/index.js';
import { PrefixSlot, type SlotPrefix } from './prefix-slot.js';
import { ClatStep, clatCounterLayout } from './step.js';

export interface ClatQueueOptions {
  translator: TranslatorConfigInput;
  ipv6Address: string;
  icmpErrorsPerSecond: number;
  icmpErrorsBurst: number;
  mtu6: number;
  mtu4: number;
  /** One counter block per queue, indexed by queue. */
  counters: SharedArrayBuffer[];
  /** The PrefixSlot the main thread publishes the active and draining PREF64 in. */
  prefixSlot: SharedArrayBuffer;
}

export const createQueueHandler: CreateQueueHandler = (context: QueueContext): QueueHandler => {
  const options = context.options as ClatQueueOptions;
  const layout = clatCounterLayout();
  const counters = new Float64Array(options.counters[context.queueIndex]);
  const step = new ClatStep(
    {
      translator: options.translator,
      ipv6Address: options.ipv6Address,
      counters,
      icmpErrorsPerSecond: options.icmpErrorsPerSecond,
      icmpErrorsBurst: options.icmpErrorsBurst,
    },
    layout,
  );
  const suppressed = layout.index('icmp.errors.suppressed');
  const slot = new PrefixSlot(options.prefixSlot);
  let seen = -1;
  const follow = () => {
    const contents = slot.read();
    if (contents === null) return;
    seen = contents.sequence;
    step.setPrefixes(text(contents.active), contents.previous === null ? null : text(contents.previous));
  };
  const batch = new BatchTranslator(step, {
    fd: context.fd,
    writer: context.tun,
    vnetHdrBytes: context.vnetHdrBytes,
    mtu6: options.mtu6,
    mtu4: options.mtu4,
    counters,
    layout,
  });
  return {
    onBatch: (buffer, offsets, lengths, count) => {
      if (slot.sequence() !== seen) follow();
      step.setNow(Date.now());
      batch.onBatch(buffer, offsets, lengths, count);
      counters[suppressed] = step.icmpErrorsSuppressed;
    },
    // An idle queue follows too, so `xlat64 status` shows every worker on the new prefix.
    onIdle: () => {
      if (slot.sequence() !== seen) follow();
    },
  };
};

function text(prefix: SlotPrefix): string {
  return `${formatIpv6Address(prefix.address)}/${prefix.length}`;
}
