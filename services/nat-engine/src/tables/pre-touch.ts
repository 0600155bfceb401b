// Start-up pre-touch of the engine's tables (as the JVM's -XX:+AlwaysPreTouch or DPDK's preallocated
// memory): a new typed array is zero pages the kernel maps on first access, so without this the packet
// path pays the page faults while the tables fill, up to two per page (a probe reads the shared zero
// page, the insert then copies it). Measured in the lab VM: ~5 us of system time per fault, ~17k faults
// while the first 500k sessions arrive (bench/nat-engine.bench.ts, "new sessions").

/** Writes every page of a freshly allocated table once and returns it (all zero, as allocated). */
export function preTouched<T extends { fill(value: number): T }>(table: T): T {
  return table.fill(0);
}
