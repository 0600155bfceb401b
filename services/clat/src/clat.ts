// `xlat64 clat` at run time: opens the TUN, configures the kernel (IPv4 address and default route
// through the TUN with MTU = IPv6 MTU - 20, a route for the dedicated IPv6 address, forwarding),
// starts one translating worker per queue, serves `xlat64 status`, and on stop removes exactly
// what it added. PREF64 discovery and the PLAT probe run here, in the main thread, and hand the
// chosen prefix to the workers through a shared slot.
import {
  addressStep,
  linkUpSteps,
  type RunningRole,
  routeStep,
  type SetupStep,
  startRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import type { TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import { createTranslator } from '../../../libs/xlat/src/index.js';
import { type ClatConfig, ipv4RouteMtu } from './config.js';
import { Pref64Discovery } from './pref64-discovery.js';
import { PrefixSlot } from './prefix-slot.js';
import type { ClatQueueOptions } from './queue-handler.js';
import { clatCounterLayout } from './step.js';

export interface RunningClat extends RunningRole {
  readonly discovery: Pref64Discovery;
}

export function clatTranslatorConfig(config: ClatConfig): TranslatorConfigInput {
  return {
    prefix: config.prefix,
    allowNonGlobalIpv4: config.allowNonGlobalIpv4,
    eam: [{ ipv4: `${config.ipv4Address}/32`, ipv6: `${config.ipv6Address}/128` }],
    mtu6: config.ipv6Mtu,
    lowestIpv6Mtu: Math.min(1280, config.ipv6Mtu),
    udpZeroChecksum: config.udpZeroChecksum,
  };
}

export async function startClat(config: ClatConfig, log: (line: string) => void): Promise<RunningClat> {
  const translator = clatTranslatorConfig(config);
  createTranslator(translator); // refuses a bad translator configuration before touching the system
  const slot = new PrefixSlot();
  const discovery = new Pref64Discovery({
    configured: config.prefixes,
    raDiscovery: config.raDiscovery,
    raDevice: config.raDevice,
    tunDevice: config.device,
    dns64Discovery: config.dns64Discovery,
    dnsServers: config.dnsServers,
    probe:
      config.probeIpv4Address === undefined
        ? null
        : {
            ipv4Address: config.probeIpv4Address,
            intervalMs: config.probeIntervalMs,
            lossThreshold: config.probeLossThreshold,
          },
    drainMs: config.prefixDrainMs,
    slot,
    log,
  });
  const clat = await startRole(
    {
      role: 'clat',
      device: config.device,
      queues: config.queues,
      statusSocket: config.statusSocket,
      layout: clatCounterLayout(),
      setupSteps: () => clatSetupSteps(config),
      handlerModule: new URL('./queue-handler.js', import.meta.url),
      handlerOptions: (counters): ClatQueueOptions => ({
        translator,
        ipv6Address: config.ipv6Address,
        icmpErrorsPerSecond: config.icmpErrorsPerSecond,
        icmpErrorsBurst: config.icmpErrorsBurst,
        mtu6: config.ipv6Mtu,
        mtu4: 1500,
        counters,
        prefixSlot: slot.buffer,
      }),
      metrics: config.metrics,
      details: () => ({
        ipv4Address: config.ipv4Address,
        ipv6Address: config.ipv6Address,
        addressMode:
          config.dedicatedPrefix === undefined ? 'single /128' : `dedicated ${config.dedicatedPrefix}`,
        prefix: discovery.status().active,
        pref64: discovery.status(),
        ipv4RouteMtu: ipv4RouteMtu(config),
        queues: config.queues,
      }),
    },
    log,
  );
  try {
    discovery.start();
  } catch (error) {
    await clat.stop();
    throw error;
  }
  log(
    `clat: ${clat.device.name} up, ${config.ipv4Address} <-> ${config.ipv6Address}, PREF64 ${config.prefix}, ` +
      `IPv4 route MTU ${ipv4RouteMtu(config)}, ${config.queues} queue(s), ` +
      `offloads [${clat.device.offloadNames.join(',')}], status ${config.statusSocket}, ` +
      `discovery: RA ${config.raDiscovery ? `on (${config.raDevice ?? 'every interface'})` : 'off'}, DNS64 ${config.dns64Discovery ? `on (${config.dnsServers.map((s) => `${s.address}#${s.port}`).join(' ') || 'no server'})` : 'off'}, ` +
      `probe ${config.probeIpv4Address ?? 'off'}`,
  );
  return {
    device: clat.device,
    metrics: clat.metrics,
    discovery,
    async stop() {
      discovery.stop();
      await clat.stop();
    },
  };
}

export function clatSetupSteps(config: ClatConfig): SetupStep[] {
  const steps: (SetupStep | null)[] = [
    ...linkUpSteps(config.device, Math.max(1500, config.ipv6Mtu)),
    addressStep(config.device, `${config.ipv4Address}/32`),
    // Single-address mode routes the /128 into the TUN; dedicated-prefix mode the whole prefix
    // (packets to its other addresses then reach the TUN and are dropped as not for us, counted).
    routeStep(config.device, config.dedicatedPrefix ?? `${config.ipv6Address}/128`),
    // Translated packets enter the kernel on the TUN and leave on the uplink: that is forwarding.
    sysctlStep('net.ipv6.conf.all.forwarding', '1'),
  ];
  if (config.defaultRoute) {
    steps.push(
      routeStep(config.device, 'default', ['src', config.ipv4Address, 'mtu', String(ipv4RouteMtu(config))]),
    );
  }
  if (config.ndpProxyDevice !== undefined) {
    const uplink = config.ndpProxyDevice;
    steps.push(sysctlStep(`net.ipv6.conf.${uplink}.proxy_ndp`, '1'), {
      description: `answer neighbour solicitations for ${config.ipv6Address} on ${uplink}`,
      apply: ['ip', '-6', 'neigh', 'add', 'proxy', config.ipv6Address, 'dev', uplink],
      undo: ['ip', '-6', 'neigh', 'del', 'proxy', config.ipv6Address, 'dev', uplink],
    });
  }
  return steps.filter((s): s is SetupStep => s !== null);
}
