// `xlat64 clat` at run time: opens the TUN, configures the kernel (IPv4 address and default route
// through the TUN with MTU = IPv6 MTU - 20, a route for the dedicated IPv6 address, forwarding),
// starts one translating worker per queue, serves `xlat64 status`, and on stop removes exactly
// what it added.

import {
  addressStep,
  linkUpSteps,
  type RunningRole,
  roleCounterLayout,
  routeStep,
  type SetupStep,
  startRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import type { TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import { createTranslator } from '../../../libs/xlat/src/index.js';
import { type ClatConfig, ipv4RouteMtu } from './config.js';
import type { ClatQueueOptions } from './queue-handler.js';
import { clatDropNames } from './step.js';

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

export async function startClat(config: ClatConfig, log: (line: string) => void): Promise<RunningRole> {
  const translator = clatTranslatorConfig(config);
  createTranslator(translator); // refuses a bad translator configuration before touching the system
  const clat = await startRole(
    {
      role: 'clat',
      device: config.device,
      queues: config.queues,
      statusSocket: config.statusSocket,
      layout: roleCounterLayout(clatDropNames),
      setupSteps: () => clatSetupSteps(config),
      handlerModule: new URL('./queue-handler.js', import.meta.url),
      handlerOptions: (counters): ClatQueueOptions => ({
        translator,
        ipv6Address: config.ipv6Address,
        mtu6: config.ipv6Mtu,
        mtu4: 1500,
        counters,
      }),
      details: () => ({
        ipv4Address: config.ipv4Address,
        ipv6Address: config.ipv6Address,
        prefix: config.prefix,
        ipv4RouteMtu: ipv4RouteMtu(config),
        queues: config.queues,
      }),
    },
    log,
  );
  log(
    `clat: ${clat.device.name} up, ${config.ipv4Address} <-> ${config.ipv6Address}, PREF64 ${config.prefix}, ` +
      `IPv4 route MTU ${ipv4RouteMtu(config)}, ${config.queues} queue(s), ` +
      `offloads [${clat.device.offloadNames.join(',')}], status ${config.statusSocket}`,
  );
  return clat;
}

export function clatSetupSteps(config: ClatConfig): SetupStep[] {
  const steps: (SetupStep | null)[] = [
    ...linkUpSteps(config.device, Math.max(1500, config.ipv6Mtu)),
    addressStep(config.device, `${config.ipv4Address}/32`),
    routeStep(config.device, `${config.ipv6Address}/128`),
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
