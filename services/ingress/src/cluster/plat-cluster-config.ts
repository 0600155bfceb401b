// The `cluster` option of `xlat64 plat` (issue 10): the node's id in the membership and the ownership
// table, its failure-detection time, and its end of the inter-node fabric (GENEVE, RFC 8926, with a keyed
// MAC; services/cluster). Needs `state` (NATS carries the membership and the table). Every bad value is
// refused at start naming the field (`cluster.<field>`) and the fix, as services/cluster's ClusterError.
import { isIP } from 'node:net';
import { configError, type RawConfig } from '../../../../libs/dataplane/src/index.js';
import {
  checkNodeId,
  DETECTION_MS_DEFAULT,
  FabricCodec,
  type FabricKeyConfig,
  type FabricMacAlgorithm,
  GENEVE_UDP_PORT,
  isClusterError,
} from '../../../cluster/src/index.js';

export interface PlatClusterConfig {
  /** This node's id: membership key, table member, fabric sender id, and the state layer's owner name. */
  nodeId: string;
  /** A member whose heartbeats stop for this long leaves the table (membership, services/cluster). */
  detectionMs: number;
  fabric: PlatFabricConfig;
}

export interface PlatFabricConfig {
  /** The address the fabric socket binds and the other members send to (IPv4 or IPv6 text). */
  host: string;
  /** UDP port (GENEVE's 6081 unless given). */
  port: number;
  keys: FabricKeyConfig[];
  currentKeyId: number | undefined;
  mac: FabricMacAlgorithm;
  vni: number | undefined;
  /** The fabric socket's receive buffer (bytes); undefined leaves the kernel's (net.core.rmem_default). */
  receiveBufferBytes: number | undefined;
}

const CLUSTER_KEYS = ['nodeId', 'detectionMs', 'fabric'];
const FABRIC_KEYS = ['address', 'keys', 'currentKeyId', 'mac', 'vni', 'receiveBufferBytes'];

/** Parses `cluster:`; `stateNodeId` is the state layer's node id (the cluster's default, and must agree). */
export function parsePlatClusterConfig(
  raw: unknown,
  stateNodeId: string | undefined,
): PlatClusterConfig | undefined {
  if (raw === undefined) return undefined;
  if (stateNodeId === undefined)
    throw configError(
      'cluster',
      'needs state (NATS carries the membership and the ownership table); add state: nats://…,redis://…',
    );
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw configError(
      'cluster',
      'expected a mapping { nodeId, detectionMs, fabric: { address, keys, mac } }',
    );
  const fields = raw as RawConfig;
  for (const key of Object.keys(fields))
    if (!CLUSTER_KEYS.includes(key))
      throw configError(`cluster.${key}`, `unknown option; valid options: ${CLUSTER_KEYS.join(', ')}`);
  const nodeId = fields.nodeId ?? stateNodeId;
  if (typeof nodeId !== 'string') throw configError('cluster.nodeId', 'expected text, e.g. plat-a');
  rethrowAsField(() => checkNodeId(nodeId));
  const detectionMs = fields.detectionMs ?? DETECTION_MS_DEFAULT;
  if (
    typeof detectionMs !== 'number' ||
    !Number.isInteger(detectionMs) ||
    detectionMs < 50 ||
    detectionMs > 60_000
  )
    throw configError(
      'cluster.detectionMs',
      `${String(detectionMs)}: give an integer 50..60000 (ms, default 1000)`,
    );
  const fabricRaw = fields.fabric;
  if (typeof fabricRaw !== 'object' || fabricRaw === null || Array.isArray(fabricRaw))
    throw configError(
      'cluster.fabric',
      'is required: { address: HOST[:PORT], keys: [{ id, secretHex }], mac: hmac-sha256 | blake2s }',
    );
  const f = fabricRaw as RawConfig;
  for (const key of Object.keys(f))
    if (!FABRIC_KEYS.includes(key))
      throw configError(`cluster.fabric.${key}`, `unknown option; valid options: ${FABRIC_KEYS.join(', ')}`);
  const { host, port } = parseFabricAddress(f.address);
  if (!Array.isArray(f.keys))
    throw configError(
      'cluster.fabric.keys',
      'is required: a list of 1 or 2 { id: 0-255, secretHex: 32+ hex digits } (e.g. from `openssl rand -hex 32`)',
    );
  const keys = (f.keys as unknown[]).map((key, i) => {
    if (typeof key !== 'object' || key === null)
      throw configError(`cluster.fabric.keys[${i}]`, 'expected { id, secretHex }');
    const { id, secretHex } = key as { id?: unknown; secretHex?: unknown };
    return { id: id as number, secretHex: String(secretHex ?? '') };
  });
  const mac = (f.mac ?? 'hmac-sha256') as FabricMacAlgorithm;
  const currentKeyId = f.currentKeyId as number | undefined;
  const vni = f.vni as number | undefined;
  // The codec checks keys, key ids, MAC and VNI exactly as it will use them; its field names follow ours.
  rethrowAsField(() => new FabricCodec({ nodeId, keys, currentKeyId, mac, vni }));
  if (currentKeyId !== undefined && !keys.some((k) => k.id === currentKeyId))
    throw configError('cluster.fabric.currentKeyId', `${currentKeyId} is not the id of one of fabric.keys`);
  const receiveBufferBytes = f.receiveBufferBytes;
  if (
    receiveBufferBytes !== undefined &&
    (typeof receiveBufferBytes !== 'number' ||
      !Number.isInteger(receiveBufferBytes) ||
      receiveBufferBytes < 65_536 ||
      receiveBufferBytes > 1 << 30)
  )
    throw configError(
      'cluster.fabric.receiveBufferBytes',
      `${String(receiveBufferBytes)}: give an integer 65536..1073741824 (bytes), or leave it out for the kernel's default`,
    );
  return {
    nodeId,
    detectionMs,
    fabric: {
      host,
      port,
      keys,
      currentKeyId,
      mac,
      vni,
      receiveBufferBytes: receiveBufferBytes as number | undefined,
    },
  };
}

/** `HOST`, `HOST:PORT`, `[IPV6]:PORT` or a bare IPv6 address; the port defaults to GENEVE's 6081. */
export function parseFabricAddress(value: unknown): { host: string; port: number } {
  const fix = 'give the node fabric address as HOST[:PORT] (IPv6 as [ADDR]:PORT), e.g. 198.51.100.2';
  if (typeof value !== 'string' || value === '')
    throw configError('cluster.fabric.address', `is required; ${fix}`);
  let host = value;
  let port = GENEVE_UDP_PORT;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed !== null) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(value) === 0) {
    const at = value.lastIndexOf(':');
    if (at > 0) {
      host = value.slice(0, at);
      port = Number(value.slice(at + 1));
    }
  }
  if (isIP(host) === 0) throw configError('cluster.fabric.address', `'${value}' has no IP address; ${fix}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw configError('cluster.fabric.address', `'${value}' has no valid port (1-65535); ${fix}`);
  return { host, port };
}

/** A ClusterError naming `field` becomes the role's config error naming `cluster.field`. */
function rethrowAsField(check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (isClusterError(error, 'XLAT64_ERR_CLUSTER_CONFIG') && error.field !== undefined)
      throw configError(`cluster.${error.field}`, error.message.replace(/^cluster \S+: /, ''));
    throw error;
  }
}
