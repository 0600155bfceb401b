// `xlat64 tenant`: the exchange operator's view of the ISPs a running PLAT serves, through its status
// socket — `list` (usage per tenant: subscribers, sessions, blocks, pool use, traffic), `show NAME`,
// `usage` (the same figures as JSON for scripts and billing checks) and `reload` (SIGHUP to the PLAT,
// then waits until its workers have the configuration file's tenants, or says it was refused).
import { parseArgs } from 'node:util';
import {
  defaultStatusDirectory,
  findStatusSockets,
  readStatus,
  type StatusDocument,
} from '../../../libs/dataplane/src/index.js';
import type { TenantUsage } from '../../ingress/src/index.js';
import type { Command } from './command.js';
import { CliUsageError } from './errors.js';

const help = `usage: xlat64 tenant list|show NAME|usage|reload [--socket PATH] [--json]

The tenants (ISPs) of a running xlat64 plat, from its status socket:
  list          one line per tenant: subscribers, sessions, port blocks, pool share use, packets
                and bytes translated both ways, packets refused (--json: the figures as JSON)
  show NAME     every figure and limit of one tenant
  usage         the figures of every tenant as JSON (what the usage records are computed from)
  reload        sends the PLAT SIGHUP (it reads its configuration file again) and waits until the
                workers apply the new tenants; exits 1 when the PLAT refused the file (its log names
                the field)
Options:
  --socket PATH   the PLAT's status socket (default: the only plat-*.sock in ${defaultStatusDirectory})
  --json          JSON instead of text (list, show)
  --timeout-ms N  reload: how long to wait for the PLAT (default 5000)
`;

/** How long a reload waits for the PLAT by default (its workers apply within 100 ms). */
const RELOAD_TIMEOUT_MS = 5000;

export const tenantCommand: Command = {
  name: 'tenant',
  summary: "the ISPs a running PLAT serves: usage per tenant, one tenant's figures, reload",
  async run(argv) {
    let values: { socket?: string; json?: boolean; help?: boolean; 'timeout-ms'?: string };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          socket: { type: 'string' },
          json: { type: 'boolean' },
          'timeout-ms': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 tenant --help'`);
    }
    const [action, name] = positionals;
    if (values.help || action === undefined) {
      process.stdout.write(help);
      return values.help ? 0 : 2;
    }
    const socket = values.socket ?? onlyPlatSocket();
    const doc = await readStatus(socket);
    if (doc.role !== 'plat') throw new CliUsageError(`${socket} is a ${doc.role}'s socket; give a PLAT's`);
    const tenants = tenantsOf(doc);
    switch (action) {
      case 'list':
        process.stdout.write(values.json ? `${JSON.stringify(tenants)}\n` : formatTenantList(tenants));
        return 0;
      case 'usage':
        process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), tenants })}\n`);
        return 0;
      case 'show': {
        if (name === undefined) throw new CliUsageError("'xlat64 tenant show' needs a tenant NAME");
        const tenant = tenants.find((t) => t.name === name);
        if (tenant === undefined) {
          process.stderr.write(
            `xlat64 tenant: no tenant '${name}' (tenants: ${tenants.map((t) => t.name).join(', ') || 'none'})\n`,
          );
          return 1;
        }
        process.stdout.write(values.json ? `${JSON.stringify(tenant)}\n` : formatTenant(tenant));
        return 0;
      }
      case 'reload':
        return reload(socket, doc, Number(values['timeout-ms'] ?? RELOAD_TIMEOUT_MS));
      default:
        throw new CliUsageError(`unknown action '${action}'; see 'xlat64 tenant --help'`);
    }
  },
};

function onlyPlatSocket(): string {
  const plats = findStatusSockets().filter((s) => /\/plat-[^/]*\.sock$/.test(s));
  if (plats.length !== 1)
    throw new CliUsageError(
      plats.length === 0
        ? `no running PLAT found (no plat-*.sock in ${defaultStatusDirectory}); pass --socket`
        : `${plats.length} PLATs run here (${plats.join(', ')}); pass --socket`,
    );
  return plats[0];
}

function tenantsOf(doc: StatusDocument): TenantUsage[] {
  const tenants = doc.tenants;
  if (!Array.isArray(tenants))
    throw new CliUsageError(
      'this PLAT serves no tenants (any source is translated); add `tenants:` to its configuration',
    );
  return tenants as TenantUsage[];
}

/** SIGHUP to the PLAT's pid, then its reload count must move within `timeoutMs`. */
async function reload(socket: string, before: StatusDocument, timeoutMs: number): Promise<number> {
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new CliUsageError('--timeout-ms: expected a whole number of milliseconds above 0');
  const count = Number(before.tenantReloads ?? 0);
  process.kill(before.pid, 'SIGHUP');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const doc = await readStatus(socket);
    if (Number(doc.tenantReloads ?? 0) > count) {
      const names = tenantsOf(doc)
        .filter((t) => t.active)
        .map((t) => t.name);
      process.stdout.write(`xlat64 tenant: reloaded, tenants now: ${names.join(', ')}\n`);
      return 0;
    }
  }
  process.stderr.write(
    `xlat64 tenant: the PLAT (pid ${before.pid}) did not apply new tenants within ${timeoutMs} ms: ` +
      "its configuration file was refused (the PLAT's log names the field and the fix); the running tenants stay\n",
  );
  return 1;
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatTenantList(tenants: readonly TenantUsage[]): string {
  const header = [
    'tenant',
    'subscribers',
    'sessions',
    'blocks',
    'pool',
    'pkts 6>4',
    'pkts 4>6',
    'bytes 6>4',
    'bytes 4>6',
    'refused',
  ];
  const rows = tenants.map((t) => [
    t.active ? t.name : `${t.name} (removed)`,
    String(t.subscribers),
    String(t.sessions),
    String(t.blocks),
    t.active ? `${percent(t.pool.used)} of ${t.pool.totalBlocks}${t.pool.dedicated ? '' : ' shared'}` : '-',
    String(t.translated64),
    String(t.translated46),
    String(t.bytes64),
    String(t.bytes46),
    String(t.refused64),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function formatTenant(t: TenantUsage): string {
  const limit = (n: number) => (n === 0 ? 'none' : String(n));
  return [
    `${t.name}${t.active ? '' : ' (removed; its sessions drain by their timeouts)'}`,
    `  subscribers ${t.subscribers}, sessions ${t.sessions}, port blocks ${t.blocks}`,
    `  pool: ${t.pool.dedicated ? 'dedicated' : 'shared'} ${t.pool.addresses} address(es), ${t.pool.totalBlocks} blocks, ${percent(t.pool.used)} held`,
    `  translated 6>4: ${t.translated64} packets, ${t.bytes64} bytes; 4>6: ${t.translated46} packets, ${t.bytes46} bytes`,
    `  IPv6 packets ${t.packets64}, refused ${t.refused64}`,
    `  limits: blocksMax ${limit(t.limits.blocksMax)}, subscriberBlocksMax ${t.limits.subscriberBlocksMax}, ` +
      `subscriberSessionsMax ${t.limits.subscriberSessionsMax}, sessionsMax ${limit(t.limits.sessionsMax)}`,
  ]
    .join('\n')
    .concat('\n');
}
