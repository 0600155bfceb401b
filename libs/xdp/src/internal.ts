// Internals that tests may reach: the native loader's paths.
export { addonPath, programPath, xdpPackageDir } from './native.js';
