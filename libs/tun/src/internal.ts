// Internals that tests may reach: the native loader's paths and the worker protocol layout.

export { IdleWait } from './idle-wait.js';
export { addonPath, tunPackageDir } from './native.js';
export { Control, QueueState, Stat } from './queue-protocol.js';
