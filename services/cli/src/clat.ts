// `xlat64 clat`: the customer-side stateless translator of 464XLAT (RFC 6877), in the foreground
// until SIGINT/SIGTERM. Options come from --config (YAML/JSON) and flags; flags win.
import { parseArgs } from 'node:util';
import { clatConfigKeys, parseClatConfig, startClat } from '../../clat/src/index.js';
import type { Command } from './command.js';
import { CliUsageError } from './errors.js';
import { loadRoleConfig, log, waitForStopSignal } from './role-runner.js';

const help = `usage: xlat64 clat [--config FILE] [options]

Runs a CLAT: a TUN device holding the RFC 7335 IPv4 address (192.0.0.1), an IPv4 default route
through it with MTU = IPv6 MTU - 20, and stateless RFC 7915 translation of that IPv4 traffic to a
dedicated IPv6 address towards the PLAT's PREF64. The PREF64 comes from router advertisements
(RFC 8781), else DNS64 (RFC 7050, ipv4only.arpa), else --prefix; with --probe-ipv4-address each
known PREF64 is pinged through its PLAT and the first that answers is used. Needs root
(CAP_NET_ADMIN, CAP_NET_RAW). Stops on SIGINT or SIGTERM and removes the routes and addresses it added.

Options (config-file key in brackets):
  --config FILE             YAML or JSON with the keys below
  --device NAME             TUN device name [device] (default clat)
  --ipv4-address A          [ipv4Address] (default 192.0.0.1)
  --ipv6-address A          dedicated IPv6 address for translated traffic [ipv6Address]
                            (required unless --dedicated-prefix)
  --dedicated-prefix P      a prefix (e.g. a delegated /64) the CLAT uses alone, routed into its TUN;
                            the address is its first one unless --ipv6-address [dedicatedPrefix]
  --prefix P                configured PREF64, repeat for several in order of preference [prefix]
                            (default 64:ff9b::/96; the last resort after RA and DNS64)
  --no-ra-discovery         do not learn the PREF64 from router advertisements [raDiscovery: false]
  --ra-device DEV           the uplink RAs arrive on: router solicitations at start, listened on
                            alone, watched to reopen the socket [raDevice] (default
                            --ndp-proxy-device, else every interface)
  --no-dns64-discovery      do not ask DNS64 for ipv4only.arpa [dns64Discovery: false]
  --dns-server A            resolver for DNS64 discovery, repeatable ('A', '[A]:port', 'a.b.c.d:port')
                            [dnsServers] (default: nameservers of /etc/resolv.conf)
  --probe-ipv4-address A    ping this IPv4 host through each PREF64 [probeIpv4Address] (default: no probe)
  --probe-interval-ms N     [probeIntervalMs] (default 1000)
  --probe-loss-threshold N  losses in a row before a PREF64 is down [probeLossThreshold] (default 3)
  --prefix-drain-ms N       replies from the previous PREF64 still translated this long after a
                            change [prefixDrainMs] (default 300000)
  --allow-non-global        allow non-global IPv4 inside 64:ff9b::/96 [allowNonGlobalIpv4] (labs)
  --ipv6-mtu N              IPv6 path MTU [ipv6Mtu] (default 1280: IPv4 route MTU 1260)
  --no-default-route        do not install the IPv4 default route [defaultRoute: false]
  --ndp-proxy-device DEV    answer NDP for the IPv6 address on this uplink [ndpProxyDevice]
  --queues N                TUN queues / worker threads [queues] (default 1)
  --status-socket PATH      where \`xlat64 status\` asks [statusSocket]
  --metrics HOST:PORT       serve Prometheus /metrics, /status.json and the dashboard page [metrics]
`;

export const clatCommand: Command = {
  name: 'clat',
  summary: 'run the CLAT (stateless RFC 7915 customer-side translator) on a TUN device',
  async run(argv) {
    let values: Record<string, string | boolean | string[] | undefined>;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          help: { type: 'boolean', short: 'h' },
          config: { type: 'string' },
          device: { type: 'string' },
          'ipv4-address': { type: 'string' },
          'ipv6-address': { type: 'string' },
          'dedicated-prefix': { type: 'string' },
          prefix: { type: 'string', multiple: true },
          'no-ra-discovery': { type: 'boolean' },
          'no-dns64-discovery': { type: 'boolean' },
          'ra-device': { type: 'string' },
          'dns-server': { type: 'string', multiple: true },
          'probe-ipv4-address': { type: 'string' },
          'probe-interval-ms': { type: 'string' },
          'probe-loss-threshold': { type: 'string' },
          'prefix-drain-ms': { type: 'string' },
          'allow-non-global': { type: 'boolean' },
          'ipv6-mtu': { type: 'string' },
          'no-default-route': { type: 'boolean' },
          'ndp-proxy-device': { type: 'string' },
          queues: { type: 'string' },
          'status-socket': { type: 'string' },
          metrics: { type: 'string' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 clat --help'`);
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const raw = loadRoleConfig(values.config as string | undefined, clatConfigKeys, {
      device: values.device,
      ipv4Address: values['ipv4-address'],
      ipv6Address: values['ipv6-address'],
      dedicatedPrefix: values['dedicated-prefix'],
      prefix: values.prefix,
      raDiscovery: values['no-ra-discovery'] ? false : undefined,
      dns64Discovery: values['no-dns64-discovery'] ? false : undefined,
      raDevice: values['ra-device'],
      dnsServers: values['dns-server'],
      probeIpv4Address: values['probe-ipv4-address'],
      probeIntervalMs: values['probe-interval-ms'],
      probeLossThreshold: values['probe-loss-threshold'],
      prefixDrainMs: values['prefix-drain-ms'],
      allowNonGlobalIpv4: values['allow-non-global'] ? true : undefined,
      ipv6Mtu: values['ipv6-mtu'],
      defaultRoute: values['no-default-route'] ? false : undefined,
      ndpProxyDevice: values['ndp-proxy-device'],
      queues: values.queues,
      statusSocket: values['status-socket'],
      metrics: values.metrics,
    });
    const config = parseClatConfig(raw);
    const clat = await startClat(config, log);
    const signal = await waitForStopSignal();
    log(`clat: ${signal}, stopping`);
    await clat.stop();
    log('clat: stopped, system configuration restored');
    return 0;
  },
};
