// Internals that tests may reach: the native loader's paths and the worker protocol layout.
export { addonPath, tunPackageDir } from './native.js';
export { Control, QueueState, Stat } from './queue-protocol.js';
