// `xlat64 plat`: the single-node PLAT (stateful NAT64 with carrier-grade port blocks) in the
// foreground until SIGINT/SIGTERM. Options come from --config (YAML/JSON) and flags; flags win.
import { parseArgs } from 'node:util';
import { parsePlatConfig, platConfigKeys, startPlat } from '../../ingress/src/index.js';
import type { Command } from './command.js';
import { CliUsageError } from './errors.js';
import { loadRoleConfig, log, waitForStopSignal } from './role-runner.js';

const help = `usage: xlat64 plat [--config FILE] [options]

Runs a single-node PLAT: a TUN device into which the PREF64 and the IPv4 pool are routed, and
stateful NAT64 (RFC 6146) with port blocks (RFC 6888) between them. State changes go to a binary
log with snapshots in stateDir; the same command after a stop or a crash restores mappings and
sessions from it. Needs root. Stops on SIGINT or SIGTERM and removes its routes. On SIGHUP it reads
the configuration again and applies its tenants and, with cluster:, the fabric's keys and
currentKeyId (a key rotation; a refused configuration is logged, naming the field, and the running
one stays); other changed settings need a restart.

Options (config-file key in brackets):
  --config FILE           YAML or JSON with the keys below
  --device NAME           TUN device [device] (default nat64)
  --io KIND               packet I/O: tun (default) or xdp [io]
  --interface IF          with --io xdp: the Ethernet interface the traffic arrives on [interface];
                          an XDP program steers only the PREF64 and the pool to AF_XDP sockets;
                          give it twice for separate IPv6 and IPv4 sides [interface, interface4]
  --xdp-mode MODE         auto (native if the driver has it, else generic), native, generic [xdpMode]
  --prefix P              PREF64 [prefix] (default 64:ff9b::/96)
  --allow-non-global      allow non-global IPv4 inside 64:ff9b::/96 [allowNonGlobalIpv4] (labs)
  --pool4 P               IPv4 pool prefix or range, repeatable [pool4] (required)
  --state-dir DIR         state directory: log and snapshots [stateDir] (default /var/lib/xlat64)
  --status-socket PATH    where \`xlat64 status\` asks [statusSocket]
  --metrics HOST:PORT     serve Prometheus /metrics, /status.json and the dashboard page [metrics]
  --no-routes             do not route PREF64 and pool into the device [routes: false]
  --queues N              TUN queues = worker threads, each owning a share of the shards [queues] (1)
  --state URLS            cluster mode: nats://HOST:PORT[,...],redis://HOST:PORT [state]; events to
                          JetStream, shard ownership and epochs in NATS KV, port blocks from Redis. A
                          second PLAT with the same --state is a hot standby that takes over when the
                          first stops renewing (config file: state: { nats, redis, nodeId, detectionMs, pool })
  --compliance URL        compliance log: a record per port-block lease and release to Kafka,
                          kafka://HOST:PORT[,HOST:PORT]/TOPIC [compliance, or compliance.url with
                          mode, logDestinations, heldIntervalMs, node, format, compression] (off by default);
                          with --state each shard's owner produces its records from JetStream
Config-file only: cluster: { nodeId, detectionMs, fabric: { address, keys, currentKeyId, mac, vni } } —
several nodes with the same state act as one translator: membership and the ownership table in NATS KV,
packets of shards another node owns forwarded to it over an authenticated GENEVE fabric (README "Cluster").
Also config-file only: mtu4, mtu6, lowestIpv6Mtu, flushIntervalMs, shards (1024), and nat: { blockSizePorts,
subscriberPrefixLength, subscriberBlocksMax, subscriberSessionsMax, filtering, timeouts, staticBib, ... },
tenants (the ISPs served, their prefixes, subscriber lengths, pool shares and limits) and usage (hourly
per-tenant usage records, JSON lines) (see README "Configuration"; 'xlat64 tenant' shows and reloads them).
`;

export const platCommand: Command = {
  name: 'plat',
  summary: 'run a single-node PLAT (stateful NAT64, RFC 6146/6888) on a TUN device',
  async run(argv) {
    let values: Record<string, string | string[] | boolean | undefined>;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          help: { type: 'boolean', short: 'h' },
          config: { type: 'string' },
          device: { type: 'string' },
          io: { type: 'string' },
          interface: { type: 'string', multiple: true },
          'xdp-mode': { type: 'string' },
          prefix: { type: 'string' },
          'allow-non-global': { type: 'boolean' },
          pool4: { type: 'string', multiple: true },
          'state-dir': { type: 'string' },
          'status-socket': { type: 'string' },
          metrics: { type: 'string' },
          'no-routes': { type: 'boolean' },
          queues: { type: 'string' },
          state: { type: 'string' },
          compliance: { type: 'string' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 plat --help'`);
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    if (((values.interface as string[] | undefined)?.length ?? 0) > 2)
      throw new CliUsageError('--interface is given once (both sides) or twice (IPv6 side, then IPv4 side)');
    const fromFlags = {
      device: values.device,
      io: values.io,
      interface: (values.interface as string[] | undefined)?.[0],
      interface4: (values.interface as string[] | undefined)?.[1],
      xdpMode: values['xdp-mode'],
      prefix: values.prefix,
      allowNonGlobalIpv4: values['allow-non-global'] ? true : undefined,
      pool4: values.pool4,
      stateDir: values['state-dir'],
      statusSocket: values['status-socket'],
      metrics: values.metrics,
      routes: values['no-routes'] ? false : undefined,
      queues: values.queues,
      compliance: values.compliance,
      state: values.state,
    };
    const configPath = values.config as string | undefined;
    const config = parsePlatConfig(loadRoleConfig(configPath, platConfigKeys, fromFlags));
    const plat = await startPlat(config, log);
    // SIGHUP: read the configuration again and apply its tenants and (cluster) fabric keys; a
    // configuration that is refused (named field) leaves the running one in force.
    const withoutLiveSettings = (c: typeof config): string =>
      JSON.stringify({
        ...c,
        tenants: undefined,
        cluster:
          c.cluster === undefined
            ? undefined
            : { ...c.cluster, fabric: { ...c.cluster.fabric, keys: undefined, currentKeyId: undefined } },
      });
    const onHangup = () => {
      try {
        const next = parsePlatConfig(loadRoleConfig(configPath, platConfigKeys, fromFlags));
        if (withoutLiveSettings(next) !== withoutLiveSettings(config))
          log(
            'plat: SIGHUP: only tenants and the fabric keys change without a restart; the other settings stay as started',
          );
        // Refusals come before any change: the keys were checked by the parse, so only a dropped
        // cluster: can refuse them; tenants refuse before they publish.
        if (config.cluster !== undefined && next.cluster === undefined)
          throw new Error('cluster: is gone from the file; a node leaves the cluster by a restart');
        const tenants = plat.reloadTenants(next.tenants);
        const keys = config.cluster === undefined ? '' : `; ${plat.reloadFabricKeys(next.cluster?.fabric)}`;
        log(`plat: SIGHUP: ${tenants}${keys}`);
      } catch (error) {
        log(`plat: SIGHUP: configuration refused, the running one stays: ${(error as Error).message}`);
      }
    };
    process.on('SIGHUP', onHangup);
    const signal = await waitForStopSignal();
    process.off('SIGHUP', onHangup);
    log(`plat: ${signal}, stopping`);
    await plat.stop();
    log(`plat: stopped, ${config.io === 'xdp' ? 'XDP program detached' : 'routes removed'}`);
    return 0;
  },
};
