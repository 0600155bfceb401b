// Internals of libs/xlat for this package's tests and benchmarks (CONVENTIONS.md 3): the shared
// RFC 7915 rewrite, its state and the stateless address decision. Not part of the public surface.
export { translate4to6 } from './rfc7915/4to6.js';
export { translate6to4 } from './rfc7915/6to4.js';
export { type AddressPlanner, mtuPlateaus, plateauBelow, XlatState } from './rfc7915/common.js';
export { mapAddress4to6, statelessPlanner } from './translator.js';
