// A NatState handed to another thread (the snapshot thread, services/state): `copyNatStateTables` copies
// every table into new buffers (views that share a buffer, e.g. a session record and its float64 expiry,
// keep sharing one) and `adoptNatStateTables` rebuilds a read-only NatState around them on the other
// side. The copy is a memcpy of the tables, so the packet worker pauses for that, not for the encoding;
// buffers of an earlier copy (`reuse`, given back by the other thread) are written over instead of new
// ones allocated.
import { assert } from '../errors.js';
import { NatState } from '../tables/nat-state.js';
import { TimerWheel } from '../timer-wheel.js';

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;

const VIEWS: Record<string, ViewConstructor> = {
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
};

/** Copies of a NatState's tables and scalars, structured-cloneable; `transfer` lists the buffers to move. */
export interface NatStateTables {
  readonly buffers: ArrayBuffer[];
  readonly fields: Record<string, unknown>;
}

/** A field: a scalar as is, a view as (buffer index, constructor, offset, length), a timer wheel recursively. */
type FieldCopy =
  | { kind: 'value'; value: unknown }
  | { kind: 'view'; buffer: number; view: string; byteOffset: number; length: number }
  | { kind: 'wheel'; fields: Record<string, FieldCopy> };

export function copyNatStateTables(state: NatState, reuse?: readonly ArrayBuffer[]): NatStateTables {
  const buffers: ArrayBuffer[] = [];
  const copies = new Map<ArrayBufferLike, number>();
  const copyObject = (object: object): Record<string, FieldCopy> => {
    const out: Record<string, FieldCopy> = {};
    for (const [key, value] of Object.entries(object)) {
      if (ArrayBuffer.isView(value)) {
        const name = value.constructor.name;
        assert(VIEWS[name] !== undefined, `state field ${key} is a ${name}`);
        let index = copies.get(value.buffer);
        if (index === undefined) {
          index = buffers.length;
          const source = value.buffer as ArrayBuffer;
          const spare = reuse?.[index];
          if (spare !== undefined && spare.byteLength === source.byteLength) {
            // Pages already touched: a plain memcpy, several times faster than a fresh allocation
            // (whose page faults and zeroing dominate at 1,000,000 sessions).
            new Uint8Array(spare).set(new Uint8Array(source));
            buffers.push(spare);
          } else {
            buffers.push(source.slice(0));
          }
          copies.set(value.buffer, index);
        }
        const length = (value as unknown as { length: number }).length;
        out[key] = { kind: 'view', buffer: index, view: name, byteOffset: value.byteOffset, length };
      } else if (typeof value === 'function') {
      } else if (value instanceof TimerWheel) {
        out[key] = { kind: 'wheel', fields: copyObject(value) };
      } else {
        out[key] = { kind: 'value', value };
      }
    }
    return out;
  };
  return { buffers, fields: copyObject(state) };
}

/** The NatState the copies describe (for reading: snapshotting); the buffers become its tables. */
export function adoptNatStateTables(tables: NatStateTables): NatState {
  const build = (fields: Record<string, FieldCopy>, prototype: object): object => {
    const object = Object.create(prototype) as Record<string, unknown>;
    for (const [key, field] of Object.entries(fields)) {
      if (field.kind === 'view') {
        const View = VIEWS[field.view];
        object[key] = new View(tables.buffers[field.buffer], field.byteOffset, field.length);
      } else if (field.kind === 'wheel') {
        object[key] = build(field.fields, TimerWheel.prototype);
      } else {
        object[key] = field.value;
      }
    }
    return object;
  };
  return build(tables.fields as Record<string, FieldCopy>, NatState.prototype) as NatState;
}
