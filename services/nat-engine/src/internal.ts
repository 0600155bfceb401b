// Internals for tests and benchmarks (CONVENTIONS.md 3); not part of the public surface.
export * from './index.js';
export { findFreePort } from './pool4/rfc6056.js';
export { deterministicOrdinal } from './pool4/rfc7422.js';
export { NatState } from './tables/nat-state.js';
export { Lifetime, tcpTransition } from './tcp-state-machine.js';
export { TimerWheel } from './timer-wheel.js';
