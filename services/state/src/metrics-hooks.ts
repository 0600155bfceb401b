// Optional metrics hooks of the state layer: what the replicated log and its standby report as it
// happens (append-to-ack time, standby apply lag), for a sink the role passes in (libs/telemetry's
// createReplicationMetrics records them as OpenTelemetry histograms). Control plane only: one call per
// batch, never per packet. Absent: nothing is measured.

export interface ReplicationMetricsSink {
  /** The log acknowledged a batch of `events` events `ms` after append() was called (queueing included). */
  appendAcked(shard: number, ms: number, events: number): void;
  /** A standby folded a batch `lagMs` after the log stored it (the log server's timestamp: clocks must agree). */
  standbyApplied(shard: number, lagMs: number): void;
}
