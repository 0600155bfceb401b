// The PLAT's whole data path on small packets, TUN against AF_XDP, same traffic, same run (root): a
// kernel-speed generator (infra/lab/trafgen-flood.sh: trafgen, AF_PACKET TX_RING) floods 64-byte IPv6/UDP
// packets of 256 flows from 64 IPv6-only subscribers to 64:ff9b::192.0.2.1 over a veth into a PLAT
// namespace, where the unchanged PLAT queue handler (NAT engine, RFC 7915, batch writer) translates them
// to IPv4 and sends them back out: first on a TUN queue (kernel routing into and out of the TUN), then on
// an AF_XDP queue (libs/xdp, native mode, Ethernet and neighbour MACs in JavaScript). Prints translated
// packets per second, the ratio, and the generator's offered rate (on a shared machine the generator
// can be the limit).
import { openTun, startQueues, type TunDevice } from '../../../libs/tun/src/index.js';
import { openXdpPort, startXdpQueues, type XdpPort } from '../../../libs/xdp/src/index.js';
import { type Rate, withPlatFloodLab } from './plat-flood-lab.js';

const DURATION_MS = 2000;

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespaces, TUN, XDP)\n');
    return;
  }
  await withPlatFloodLab('pb', DURATION_MS, async (lab) => {
    const { sh, nsPlat, config, layout, handlerModule } = lab;
    let tun: TunDevice | undefined;
    let port: XdpPort | undefined;
    try {
      // 1. TUN: the kernel routes the PREF64 into the TUN and forwards the translated IPv4 out of b0.
      tun = openTun({ name: 'x64t-pt', vnetHdr: true, netnsPath: `/run/netns/${nsPlat}` });
      sh('ip', '-n', nsPlat, 'link', 'set', 'x64t-pt', 'up', 'txqueuelen', '4096');
      sh('ip', '-n', nsPlat, 'route', 'add', '64:ff9b::/96', 'dev', 'x64t-pt');
      sh('ip', '-n', nsPlat, 'route', 'add', '198.51.100.0/24', 'dev', 'x64t-pt');
      const tunCounters = layout.allocate();
      const tunQueues = await startQueues({
        device: tun,
        handlerModule,
        handlerOptions: lab.options('tun', tunCounters),
      });
      const tunRate = await lab.measure(new Float64Array(tunCounters));
      await tunQueues.stop();
      tun.close();
      tun = undefined;

      // 2. AF_XDP on b0: the program redirects the PREF64 and the pool to the socket.
      port = openXdpPort({
        interfaceName: 'b0',
        netnsPath: `/run/netns/${nsPlat}`,
        pref64: [config.prefix],
        pool4: config.pool4,
      });
      const xdpCounters = layout.allocate();
      const xdpQueues = await startXdpQueues({
        port,
        handlerModule,
        handlerOptions: lab.options('xdp', xdpCounters),
        netns: nsPlat,
      });
      const xdpRate = await lab.measure(new Float64Array(xdpCounters));
      const misses = xdpQueues.stats().neighbourMisses;
      await xdpQueues.stop();
      const mode = port.mode;

      const row = (name: string, r: Rate) =>
        `${name.padEnd(30)} ${(r.pps / 1000).toFixed(1).padStart(8)} kpps translated  (generator offered ${(r.offered / 1000).toFixed(0)} kpps)` +
        `  CPU ${r.cpuUsPerPacket.toFixed(2)} µs/packet (${Math.round(r.cpuShare * 100)} % of a CPU: ${(1 / r.cpuUsPerPacket).toFixed(2)} Mpps per core)`;
      process.stdout.write(
        `PLAT, 64-byte IPv6/UDP -> IPv4, 256 flows, one queue, ${DURATION_MS} ms each, same run\n` +
          `${row('TUN queue (baseline)', tunRate)}\n` +
          `${row(`AF_XDP queue (${mode})`, xdpRate)}  x${(xdpRate.pps / tunRate.pps).toFixed(2)} vs TUN` +
          `${misses > 0 ? `  (${misses} neighbour misses)` : ''}\n`,
      );
    } finally {
      port?.close();
      tun?.close();
    }
  });
}
