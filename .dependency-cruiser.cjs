// Layering rules of xlat64 (CONVENTIONS.md 3 and 22; DESIGN.md "Where each part lives"), checked
// by `npm run lint:layers` inside `npm test`. Paths are relative to the directory the check runs
// in (the repository root), so test/layers.test.ts can run the same rules over a small tree of its
// own and show that each rule fails on a violating import.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'lib-imports-service',
      severity: 'error',
      comment:
        'libs/ are below services/: a library never imports a service. Move the shared code into a lib (as libs/dataplane was).',
      from: { path: '^libs/' },
      to: { path: '^services/' },
    },
    {
      name: 'service-imports-service-internals',
      severity: 'error',
      comment:
        "A service reaches another service only through that service's src/index.ts (its public surface); export what you need there.",
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: ['^services/$1/', '^services/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'cluster-below-roles',
      severity: 'error',
      comment:
        'services/cluster (membership, ownership table, fabric) sits below the roles: the PLAT imports it, never the reverse, so it must not import ingress, cli or clat.',
      from: { path: '^services/cluster/' },
      to: { path: '^services/(ingress|cli|clat)/' },
    },
    {
      name: 'unresolvable-import',
      severity: 'error',
      comment:
        'Every import resolves to a file: an import the checker cannot follow would let the rules above pass unchecked.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-cycle',
      severity: 'error',
      comment:
        'Calls go down, results come back (CONVENTIONS.md 21): no module imports itself through others.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|build)/' },
    tsPreCompilationDeps: true,
    // NodeNext sources import './x.js' where the file on disk is './x.ts'; dependency-cruiser
    // maps the one to the other when it knows the TypeScript extensions.
    enhancedResolveOptions: {
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.node'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
