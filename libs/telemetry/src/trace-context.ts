// W3C Trace Context (traceparent / tracestate) carried in message headers, so one piece of
// control-plane work (a lease, a takeover) stays one trace across nodes. The carrier is any
// header map with get/set, as NATS message headers are (nats.js MsgHdrs has get/set).
import {
  type Context,
  context,
  propagation,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

export interface HeaderMap {
  get(name: string): string | undefined | null;
  set(name: string, value: string): void;
  keys?(): Iterable<string>;
}

const propagator = new W3CTraceContextPropagator();

const setter: TextMapSetter<HeaderMap> = { set: (carrier, key, value) => carrier.set(key, value) };
const getter: TextMapGetter<HeaderMap> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  keys: (carrier) => (carrier.keys === undefined ? [] : [...carrier.keys()]),
};

/** Writes the active (or given) span context into the headers as traceparent/tracestate. */
export function injectTraceContext(headers: HeaderMap, from: Context = context.active()): void {
  propagator.inject(from, headers, setter);
}

/** Reads traceparent/tracestate from the headers into a context to start child spans under. */
export function extractTraceContext(headers: HeaderMap, into: Context = context.active()): Context {
  return propagator.extract(into, headers, getter);
}

/** Also installs the propagator globally, for libraries that use `propagation` directly. */
export function installTracePropagator(): void {
  propagation.setGlobalPropagator(propagator);
}
