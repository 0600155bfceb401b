// OpenTelemetry metrics read from the counters the data plane already keeps: one observable
// instrument per metric whose callback reads every worker's counter SharedArrayBuffer at collection
// time (scrape), so nothing is added to the per-packet path. Counter names map to OTel-style names.
import assert from 'node:assert/strict';
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';

/** Where one data-plane counter lands: metric name, kind, unit and fixed attributes. */
export interface MetricTarget {
  metric: string;
  kind: 'counter' | 'gauge';
  unit: string;
  description: string;
  attributes: Attributes;
}

const fixed: Record<string, Omit<MetricTarget, 'description'> & { description?: string }> = {
  'rx.packets': { metric: 'xlat64.received.packets', kind: 'counter', unit: '{packet}', attributes: {} },
  'rx.bytes': { metric: 'xlat64.received.bytes', kind: 'counter', unit: 'By', attributes: {} },
  'tx.packets64': {
    metric: 'xlat64.packets',
    kind: 'counter',
    unit: '{packet}',
    attributes: { direction: '6to4' },
  },
  'tx.packets46': {
    metric: 'xlat64.packets',
    kind: 'counter',
    unit: '{packet}',
    attributes: { direction: '4to6' },
  },
  'tx.bytes64': { metric: 'xlat64.bytes', kind: 'counter', unit: 'By', attributes: { direction: '6to4' } },
  'tx.bytes46': { metric: 'xlat64.bytes', kind: 'counter', unit: 'By', attributes: { direction: '4to6' } },
  'tx.replies': { metric: 'xlat64.replies', kind: 'counter', unit: '{packet}', attributes: {} },
  'tx.refused': { metric: 'xlat64.write.refused', kind: 'counter', unit: '{packet}', attributes: {} },
  'rx.superpackets': {
    metric: 'xlat64.received.superpackets',
    kind: 'counter',
    unit: '{packet}',
    attributes: {},
  },
  'nat.sessions': { metric: 'xlat64.nat.sessions', kind: 'gauge', unit: '{session}', attributes: {} },
  'nat.mappings': { metric: 'xlat64.nat.mappings', kind: 'gauge', unit: '{mapping}', attributes: {} },
  'nat.blocks': { metric: 'xlat64.nat.blocks', kind: 'gauge', unit: '{block}', attributes: {} },
  'nat.subscribers': {
    metric: 'xlat64.nat.subscribers',
    kind: 'gauge',
    unit: '{subscriber}',
    attributes: {},
  },
  'nat.heldsyns': { metric: 'xlat64.nat.held_syns', kind: 'gauge', unit: '{packet}', attributes: {} },
  'nat.subscribersAtSessionLimit': {
    metric: 'xlat64.nat.subscribers.at_limit',
    kind: 'gauge',
    unit: '{subscriber}',
    attributes: { limit: 'sessions' },
  },
  'nat.subscribersAtBlockLimit': {
    metric: 'xlat64.nat.subscribers.at_limit',
    kind: 'gauge',
    unit: '{subscriber}',
    attributes: { limit: 'blocks' },
  },
  'events.pending': { metric: 'xlat64.eventlog.pending', kind: 'gauge', unit: '{event}', attributes: {} },
  'events.refused': { metric: 'xlat64.eventlog.refused', kind: 'counter', unit: '{event}', attributes: {} },
  // Cluster state (`xlat64 plat --state`): one shard per worker, so the `worker` label names the shard.
  'replication.unackedBatches': {
    metric: 'xlat64.replication.unacked.batches',
    kind: 'gauge',
    unit: '{batch}',
    attributes: {},
  },
  'replication.unackedBytes': {
    metric: 'xlat64.replication.unacked.bytes',
    kind: 'gauge',
    unit: 'By',
    attributes: {},
  },
  'replication.appendSecondsLast': {
    metric: 'xlat64.replication.append.last',
    kind: 'gauge',
    unit: 's',
    attributes: {},
  },
  'replication.appendSecondsSum': {
    metric: 'xlat64.replication.append.time',
    kind: 'counter',
    unit: 's',
    attributes: {},
  },
  'replication.appendedBatches': {
    metric: 'xlat64.replication.appended.batches',
    kind: 'counter',
    unit: '{batch}',
    attributes: {},
  },
  'replication.appendedEvents': {
    metric: 'xlat64.replication.appended.events',
    kind: 'counter',
    unit: '{event}',
    attributes: {},
  },
  'replication.standbyLagSecondsLast': {
    metric: 'xlat64.replication.standby.lag.last',
    kind: 'gauge',
    unit: 's',
    attributes: {},
  },
  'replication.standbyLagSecondsSum': {
    metric: 'xlat64.replication.standby.lag.time',
    kind: 'counter',
    unit: 's',
    attributes: {},
  },
  'replication.standbyLagBatches': {
    metric: 'xlat64.replication.standby.applied',
    kind: 'counter',
    unit: '{batch}',
    attributes: {},
  },
  'state.takeovers': {
    metric: 'xlat64.state.takeovers',
    kind: 'counter',
    unit: '{takeover}',
    attributes: {},
  },
  'state.takeoverSeconds': {
    metric: 'xlat64.state.takeover.duration',
    kind: 'gauge',
    unit: 's',
    attributes: {},
  },
};

const descriptions: Record<string, string> = {
  'xlat64.received.packets': 'L3 packets read from the device',
  'xlat64.received.bytes': 'bytes of the L3 packets read from the device',
  'xlat64.packets': 'packets translated and written, by direction',
  'xlat64.bytes': 'bytes translated and written, by direction',
  'xlat64.replies': 'ICMP errors sent back instead of a translation',
  'xlat64.write.refused': 'packets the device refused on write',
  'xlat64.received.superpackets': 'GSO super-packets read',
  'xlat64.drops': 'packets dropped, by reason and direction',
  'xlat64.nat.sessions': 'NAT sessions (RFC 6146 session table entries)',
  'xlat64.nat.mappings': 'NAT mappings (BIB entries)',
  'xlat64.nat.blocks': 'port blocks leased to subscribers (RFC 6888)',
  'xlat64.nat.subscribers': 'subscribers holding state',
  'xlat64.nat.held_syns': 'inbound SYNs held for a simultaneous open (RFC 6146 sec. 3.5.2.2)',
  'xlat64.nat.subscribers.at_limit':
    'subscribers at their per-subscriber bound (limit=sessions: no further session; limit=blocks: holding subscriberBlocksMax blocks of a protocol)',
  'xlat64.eventlog.pending': 'state events buffered and not yet written to the event log',
  'xlat64.eventlog.refused': 'state events refused because the event buffer was full',
  'xlat64.replication.unacked.batches':
    "owner: batches of the worker's shard sealed and not yet acknowledged by the event log",
  'xlat64.replication.unacked.bytes': 'owner: bytes of the batches not yet acknowledged by the event log',
  'xlat64.replication.append.last': 'owner: time from append to acknowledgement of the last batch',
  'xlat64.replication.append.time':
    'owner: append-to-acknowledgement time summed over acknowledged batches (divide by appended.batches)',
  'xlat64.replication.appended.batches': 'owner: batches acknowledged by the event log',
  'xlat64.replication.appended.events': 'owner: state events acknowledged by the event log',
  'xlat64.replication.standby.lag.last':
    'standby: apply time minus the log store time of the last batch it folded',
  'xlat64.replication.standby.lag.time':
    'standby: apply lag summed over folded batches (divide by standby.applied)',
  'xlat64.replication.standby.applied': 'standby: batches folded into the replica whose lag was measured',
  'xlat64.state.takeovers': 'shard takeovers by this worker',
  'xlat64.state.takeover.duration': 'the last takeover, from the decision to serving',
};

/** The metric a data-plane counter name becomes; names nobody mapped yet become a gauge of their own. */
export function metricTarget(counterName: string): MetricTarget {
  const known = fixed[counterName];
  if (known !== undefined) return { description: descriptions[known.metric] ?? '', ...known };
  if (counterName.startsWith('drop.')) {
    const name = counterName.slice('drop.'.length);
    const direction = name.endsWith('46') ? '4to6' : name.endsWith('64') ? '6to4' : 'none';
    const reason = direction === 'none' ? name : name.slice(0, -2);
    return {
      metric: 'xlat64.drops',
      kind: 'counter',
      unit: '{packet}',
      description: descriptions['xlat64.drops'] ?? '',
      attributes: { reason, direction },
    };
  }
  // Per-tenant entries of the PLAT (`tenant.<name>.<counter>`): one metric per counter, the tenant an attribute.
  const tenant = /^tenant\.([^.]+)\.([a-z0-9]+)$/.exec(counterName);
  if (tenant !== null) {
    const [, name, counter] = tenant;
    const direction = counter.endsWith('46') ? '4to6' : counter.endsWith('64') ? '6to4' : undefined;
    const base = direction === undefined ? counter : counter.slice(0, -2);
    return {
      metric: `xlat64.tenant.${base}`,
      kind: counter === 'blocks' ? 'gauge' : 'counter',
      unit: counter === 'blocks' ? '{block}' : '{packet}',
      description: `per tenant: ${counter === 'blocks' ? 'port blocks its subscribers hold' : `packets (${counter})`}`,
      attributes: direction === undefined ? { tenant: name } : { tenant: name, direction },
    };
  }
  return {
    metric: `xlat64.${counterName.replace(/[^a-zA-Z0-9.]/g, '_')}`,
    kind: 'gauge',
    unit: '1',
    description: `data-plane counter ${counterName}`,
    attributes: {},
  };
}

export interface CounterSource {
  /** The counter names, in slot order (CounterLayout.names). */
  names: readonly string[];
  /** One block per worker, float64 per slot, written by that worker only. */
  blocks: readonly SharedArrayBuffer[];
  /** Attributes on every observation (role, node). */
  attributes?: Attributes;
}

/**
 * Registers one observable instrument per metric over the counter blocks. Each observation carries
 * a `worker` attribute (the queue index) because the counters are kept per worker.
 */
export function registerCounterMetrics(meter: Meter, source: CounterSource): void {
  const views = source.blocks.map((block) => new Float64Array(block));
  for (const view of views)
    assert.equal(view.length, source.names.length, 'counter block does not match the names');
  const byMetric = new Map<
    string,
    { target: MetricTarget; slots: { slot: number; attributes: Attributes }[] }
  >();
  source.names.forEach((name, slot) => {
    const target = metricTarget(name);
    let entry = byMetric.get(target.metric);
    if (entry === undefined) {
      entry = { target, slots: [] };
      byMetric.set(target.metric, entry);
    }
    assert.equal(entry.target.kind, target.kind, `${target.metric}: mixed counter and gauge`);
    entry.slots.push({ slot, attributes: { ...source.attributes, ...target.attributes } });
  });
  for (const { target, slots } of byMetric.values()) {
    const options = { unit: target.unit, description: target.description };
    const instrument =
      target.kind === 'counter'
        ? meter.createObservableCounter(target.metric, options)
        : meter.createObservableGauge(target.metric, options);
    const workerAttributes = slots.map(({ attributes }) =>
      views.map((_, worker) => ({ ...attributes, worker: String(worker) })),
    );
    instrument.addCallback((result: ObservableResult) => {
      for (let s = 0; s < slots.length; s++) {
        const slot = slots[s].slot;
        for (let worker = 0; worker < views.length; worker++)
          result.observe(views[worker][slot], workerAttributes[s][worker]);
      }
    });
  }
}
