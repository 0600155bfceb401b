// The state layer's lag figures as OpenTelemetry metrics: histograms recorded as the replicated log
// reports (append-to-ack, standby apply lag: matches services/state's ReplicationMetricsSink), and
// gauges read on scrape from the compliance outbox's status (pending records, the oldest one's age,
// event-log batches not yet forwarded). Control plane only: one record per batch, never per packet.
import type { Histogram, Meter } from '@opentelemetry/api';
import type { ObservedMetric } from './observed-metrics.js';

/** Seconds: 1 ms .. 10 s, where replication lag lives (the SDK's default buckets are for milliseconds). */
const LAG_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ReplicationMetrics {
  appendAcked(shard: number, ms: number, events: number): void;
  standbyApplied(shard: number, lagMs: number): void;
}

/** The sink to hand the JetStream log (`metrics`) and the standby (`metrics`); records on `meter`. */
export function createReplicationMetrics(
  meter: Meter,
  attributes: Record<string, string> = {},
): ReplicationMetrics {
  const histogram = (name: string, description: string): Histogram =>
    meter.createHistogram(name, {
      unit: 's',
      description,
      advice: { explicitBucketBoundaries: LAG_BUCKETS_S },
    });
  const appendAck = histogram(
    'xlat64.replication.append.duration',
    'time from appending a batch to the event log until the log acknowledged it (replicated)',
  );
  const standbyLag = histogram(
    'xlat64.replication.standby.lag',
    'time from the log storing a batch until a standby applied it',
  );
  const appendedEvents = meter.createCounter('xlat64.replication.appended.events', {
    unit: '{event}',
    description: 'state events acknowledged by the event log',
  });
  return {
    appendAcked(shard, ms, events) {
      const a = { ...attributes, shard: String(shard) };
      appendAck.record(ms / 1000, a);
      appendedEvents.add(events, a);
    },
    standbyApplied(shard, lagMs) {
      standbyLag.record(Math.max(0, lagMs) / 1000, { ...attributes, shard: String(shard) });
    },
  };
}

/** What the outbox gauges read (services/state ComplianceOutbox.status() has these fields). */
export interface OutboxLagStatus {
  pendingRecords: number;
  oldestPendingAtMs: number | null;
  lagBatches: number;
  /** Batches the event log dropped (retention, snapshot purge) before the outbox sent their records. */
  lostBatches?: number;
}

/** The compliance outbox's lag as gauges, read from `status()` at each scrape. */
export function outboxMetrics(
  status: () => OutboxLagStatus,
  nowMs: () => number = Date.now,
): ObservedMetric[] {
  return [
    {
      metric: 'xlat64.compliance.outbox.pending',
      kind: 'gauge',
      unit: '{record}',
      description: 'compliance records derived and waiting for Kafka',
      observe: () => [{ value: status().pendingRecords }],
    },
    {
      metric: 'xlat64.compliance.outbox.oldest_pending.age',
      kind: 'gauge',
      unit: 's',
      description:
        'age (event time to now) of the oldest compliance record waiting for Kafka; 0 when none wait',
      observe: () => {
        const oldest = status().oldestPendingAtMs;
        return [{ value: oldest === null ? 0 : Math.max(0, nowMs() - oldest) / 1000 }];
      },
    },
    {
      metric: 'xlat64.compliance.outbox.lag',
      kind: 'gauge',
      unit: '{batch}',
      description: 'event-log batches not yet forwarded to Kafka, summed over shards',
      observe: () => [{ value: status().lagBatches }],
    },
    {
      metric: 'xlat64.compliance.outbox.lost',
      kind: 'gauge',
      unit: '{batch}',
      description:
        'event-log batches dropped before their compliance records reached Kafka (a Kafka outage longer than the log keeps them)',
      observe: () => [{ value: status().lostBatches ?? 0 }],
    },
  ];
}
