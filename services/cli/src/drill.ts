// `xlat64 drill`: the operator's failover drill. Injects one fault into one node of a cluster
// described by a target file, under flows it generates, and reports per flow the traffic gap, whether
// the flow kept its IPv4 address and port at the server, resets, sessions lost and time to takeover.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { defaultFabricPort, type Fault, faults } from './drill/faults.js';
import { formatDrill, formatRepeats } from './drill/report.js';
import { runDrills } from './drill/run.js';
import { DrillSteps } from './drill/steps.js';
import { loadTarget } from './drill/target.js';
import { CliUsageError } from './errors.js';

const help = `usage: xlat64 drill --target FILE --node ID|serving --fault FAULT [options]

Runs a failover drill against the cluster the target file describes (format in README.md, "xlat64
drill"): starts a recorder (TCP and UDP echo that logs each flow's source address and port) in the
server's namespace and long-lived flows from the client's subscriber addresses, injects the fault
once every flow is answered, undoes it, and reports per flow the longest interval without a reply
(the gap), whether the server saw one IPv4 address and port for it throughout, TCP resets, sessions
lost and the time until another node reported the takeover on its status socket.
Exit status: 0 when every flow survived, 1 when a flow broke, 2 for a bad target or option.

  --target FILE        the cluster's target description (JSON, format 1)
  --node ID            the node to fault, or 'serving' (the first whose status shows state.serving)
  --fault F            kill (SIGKILL), stop (SIGTERM), partition-state (nftables in the node's
                       namespace cut it from NATS and Redis), partition-peers (cut from the fabric,
                       UDP --fabric-port), nats-restart (every NATS server stopped, then started again),
                       none (a baseline: the same flows and windows, nothing injected)
  --tcp N              long-lived TCP connections (default 4)
  --udp M              steady UDP streams (default 4)
  --interval MS        one request per flow every MS (default 50): the gap's resolution
  --warmup MS         every flow runs answered this long before the fault (default 2000; longer than
                       the cluster's flush interval, so the standby holds the flows' sessions)
  --observe MS         from the fault to the restore (default 5000)
  --settle MS          from the restore to the end, flows still watched (default 3000)
  --no-restore         leave the fault in place (the node stays down, the rules stay)
  --repeat N           N drills in a row (with --node serving, each drill faults the node serving
                       then); prints the gap distribution p50/p99/max over every flow
  --pause MS           between repeated drills (default 2000)
  --tcp-port P, --udp-port P   the recorder's ports on the server (default 9400, 9401)
  --fabric-port P      the fabric's UDP port for partition-peers (default ${defaultFabricPort}, GENEVE)
  --restart-timeout MS how long a restarted node may take to answer its status socket (default 60000)
  --work-dir DIR       where the agents' logs go (default: a new directory under the temp dir)
  --traces-url URL     OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces): each drill is one
                       trace (drill ⊃ warmup, fault, observe, restore, settle); the nodes join it
  Each step (fault, takeover, restore, end) is also published on the target's NATS
  (xlat64.drill.steps, with the step's trace context in the headers): the nodes show it on their
  dashboards' timelines.
  --json               one JSON document (the drill, or with --repeat the distribution and every drill)
`;

function positiveInteger(flag: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new CliUsageError(`xlat64 drill: ${flag} ${text} is not an integer ≥ ${min}`);
  return value;
}

export const drillCommand: Command = {
  name: 'drill',
  summary: "failover drill: fault one node under live flows, report each flow's gap and mapping",
  async run(argv) {
    let values: Record<string, string | boolean | undefined>;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          target: { type: 'string' },
          node: { type: 'string' },
          fault: { type: 'string' },
          tcp: { type: 'string' },
          udp: { type: 'string' },
          interval: { type: 'string' },
          warmup: { type: 'string' },
          observe: { type: 'string' },
          settle: { type: 'string' },
          'no-restore': { type: 'boolean' },
          repeat: { type: 'string' },
          pause: { type: 'string' },
          'tcp-port': { type: 'string' },
          'udp-port': { type: 'string' },
          'fabric-port': { type: 'string' },
          'restart-timeout': { type: 'string' },
          'work-dir': { type: 'string' },
          'traces-url': { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 drill --help'`);
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const str = (name: string): string | undefined => values[name] as string | undefined;
    if (str('target') === undefined)
      throw new CliUsageError("xlat64 drill: --target FILE is required; see 'xlat64 drill --help'");
    if (str('node') === undefined)
      throw new CliUsageError('xlat64 drill: --node ID (or --node serving) is required');
    const fault = str('fault');
    if (fault === undefined || !(faults as readonly string[]).includes(fault))
      throw new CliUsageError(
        `xlat64 drill: --fault ${fault ?? '(missing)'}: give one of ${faults.join(', ')}`,
      );
    const target = loadTarget(str('target') as string);
    const tcpFlows = positiveInteger('--tcp', str('tcp'), 4, 0);
    const udpFlows = positiveInteger('--udp', str('udp'), 4, 0);
    if (tcpFlows + udpFlows === 0)
      throw new CliUsageError('xlat64 drill: --tcp 0 --udp 0 leaves nothing to watch');
    const port = (flag: string, fallback: number): number => {
      const value = positiveInteger(flag, str(flag.slice(2)), fallback);
      if (value > 65535) throw new CliUsageError(`xlat64 drill: ${flag} ${value} is not a port`);
      return value;
    };
    const json = values.json === true;
    const repeat = positiveInteger('--repeat', str('repeat'), 1);
    const tracesUrl = str('traces-url');
    if (tracesUrl !== undefined && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(tracesUrl))
      throw new CliUsageError(
        `xlat64 drill: --traces-url '${tracesUrl}' is not an http(s) URL; e.g. http://127.0.0.1:4318/v1/traces`,
      );
    const progress = (line: string) => {
      if (!json) process.stderr.write(`${line}\n`);
    };
    // Every option is read before anything starts: a bad one is refused with nothing left running.
    const settings = {
      target,
      node: str('node') as string,
      fault: fault as Fault,
      restore: values['no-restore'] !== true,
      tcpFlows,
      udpFlows,
      intervalMs: positiveInteger('--interval', str('interval'), 50),
      warmupMs: positiveInteger('--warmup', str('warmup'), 2000, 0),
      observeMs: positiveInteger('--observe', str('observe'), 5000, 0),
      settleMs: positiveInteger('--settle', str('settle'), 3000, 0),
      tcpPort: port('--tcp-port', 9400),
      udpPort: port('--udp-port', 9401),
      fabricPort: port('--fabric-port', defaultFabricPort),
      restartTimeoutMs: positiveInteger('--restart-timeout', str('restart-timeout'), 60_000),
      progress,
    };
    const pauseMs = positiveInteger('--pause', str('pause'), 2000, 0);
    const workDir = str('work-dir') ?? mkdtempSync(join(tmpdir(), 'xlat64-drill-'));
    const steps = await DrillSteps.open(target, tracesUrl, progress);
    const report = await runDrills({ ...settings, workDir, steps }, repeat, pauseMs).finally(() =>
      steps.close(),
    );
    if (json) process.stdout.write(`${JSON.stringify(repeat === 1 ? report.drills[0] : report)}\n`);
    else process.stdout.write(repeat === 1 ? formatDrill(report.drills[0]) : formatRepeats(report));
    return report.broken === 0 ? 0 : 1;
  },
};
