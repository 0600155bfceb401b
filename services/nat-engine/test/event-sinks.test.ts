// Proves the two event sinks of events.ts keep their contract: ArrayEventSink keeps every event pushed,
// in order and by identity (a test's or an embedded node's log); CountingEventSink counts them and keeps
// none (benchmarks).
import { describe, expect, it } from 'vitest';
import { ArrayEventSink, CountingEventSink, type NatEvent, NatEventType } from '../src/index.js';

const event = (timeMs: number): NatEvent => ({
  type: NatEventType.BlockReleased,
  version: 1,
  shard: 0,
  epoch: 0,
  timeMs,
  protocol: 1,
  address: 0xcb007101,
  firstPort: 1024,
});

describe('event sinks', () => {
  it('keeps every event pushed, in order, the same objects', () => {
    const sink = new ArrayEventSink();
    expect(sink.events).toEqual([]);
    const a = event(1);
    const b = event(2);
    sink.push(a);
    sink.push(b);
    expect(sink.events).toHaveLength(2);
    expect(sink.events[0]).toBe(a);
    expect(sink.events[1]).toBe(b);
  });

  it('counts the events pushed', () => {
    const sink = new CountingEventSink();
    expect(sink.count).toBe(0);
    for (let i = 0; i < 3; i++) sink.push(event(i));
    expect(sink.count).toBe(3);
  });
});
