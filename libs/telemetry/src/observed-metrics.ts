// Metrics whose values a role computes on request (pool use per address, lag figures kept by the state
// layer): one observable instrument per metric whose callback asks the owner for its current
// observations at collection time (scrape). Control plane only, like the counter metrics.
import assert from 'node:assert/strict';
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';

export interface Observation {
  value: number;
  attributes?: Attributes;
}

/** One metric observed on request: name in OTel style (`xlat64.…`), kind, unit, and its values now. */
export interface ObservedMetric {
  metric: string;
  kind: 'counter' | 'gauge';
  unit: string;
  description: string;
  observe(): Iterable<Observation>;
}

/** Registers each metric as an observable instrument; `attributes` go on every observation. */
export function registerObservedMetrics(
  meter: Meter,
  metrics: readonly ObservedMetric[],
  attributes: Attributes = {},
): void {
  const names = new Set<string>();
  for (const m of metrics) {
    assert.ok(m.metric.startsWith('xlat64.'), `observed metric ${m.metric}: names start with xlat64.`);
    assert.ok(!names.has(m.metric), `observed metric ${m.metric} registered twice`);
    names.add(m.metric);
    const options = { unit: m.unit, description: m.description };
    const instrument =
      m.kind === 'counter'
        ? meter.createObservableCounter(m.metric, options)
        : meter.createObservableGauge(m.metric, options);
    instrument.addCallback((result: ObservableResult) => {
      for (const o of m.observe()) result.observe(o.value, { ...attributes, ...o.attributes });
    });
  }
}
