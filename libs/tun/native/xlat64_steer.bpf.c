// xlat64_steer.bpf.c - the TUN steering program of a multi-queue PLAT (TUNSETSTEERINGEBPF): the kernel
// runs it for every packet it routes into the TUN device and queues the packet on the queue it returns
// (modulo the queue count), so a packet reaches the worker that owns its shard without crossing a
// worker-to-worker ring. It routes as services/ingress's ShardRouter does, from maps the router fills:
//   IPv6: the source's subscriber key (masked to the subscriber prefix length) through the same keyed
//         murmur3 hash into the virtual shards (subscriber-shard.ts), then shard -> queue;
//   IPv4: TCP/UDP destination port and ICMP echo identifier, with the destination (a pool address),
//         through the leased-block map to the block's shard, then shard -> queue; an ICMP error by the
//         packet it quotes (its source: the pool address and port of the subscriber's flow).
// Anything else (IPv4 fragments, static mappings, unleased blocks, IPv6 when tenants set
// their own subscriber lengths) gets a per-host-pair hash: the worker that reads it routes it in
// JavaScript and passes it on through the ring if it is another worker's, as without this program.
// A wrong or stale answer here therefore costs a ring hop, never a wrong translation.
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define STEER_IPV6 1u
#define STEER_IPV4 2u
#define QUEUE_UNKNOWN 0xffffffffu

// Shared with libs/tun/src/steering.ts and native/steer.c (STEER_CONFIG_WORDS = 17): 32-bit words, host
// byte order.
struct steer_config {
  __u32 flags;        // STEER_IPV6 | STEER_IPV4
  __u32 shard_mask;   // virtual shards - 1 (a power of two)
  __u32 mask[4];      // the subscriber prefix as a mask over the source's four words
  __u32 key[4];       // the per-word hash keys
  __u32 port_first[3]; // per protocol slot (tcp, udp, icmp): the dynamic range ...
  __u32 port_last[3];
  __u32 block_size;   // ... cut into blocks of this many ports
};

struct block_key {
  __u32 address;    // pool address, host order
  __u32 slot_block; // protocol slot << 24 | block number inside the address's range
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct steer_config);
} config SEC(".maps");

// Virtual shard -> queue (QUEUE_UNKNOWN: route in JavaScript). Sized at load (the shard count).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u32);
} shard_queue SEC(".maps");

// Leased block -> virtual shard. Sized at load (the pool's block count, bounded).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct block_key);
  __type(value, __u32);
} block_shard SEC(".maps");

static __always_inline __u32 scramble(__u32 word, __u32 key) {
  __u32 k = (word ^ key) * 0xcc9e2d51u;
  k ^= k >> 15;
  return k * 0x1b873593u;
}

static __always_inline __u32 finish(__u32 h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

static __always_inline __u32 queue_of_shard(__u32 shard, __u32 fallback) {
  __u32 *queue = bpf_map_lookup_elem(&shard_queue, &shard);
  if (!queue || *queue == QUEUE_UNKNOWN) return fallback;
  return *queue;
}

static __always_inline __u32 route6(struct __sk_buff *skb, struct steer_config *c) {
  __u32 w[8];
  if (bpf_skb_load_bytes(skb, 8, w, 32) < 0) return 0;
  // Fallback: source and destination, so one host pair stays on one queue.
  __u32 pair = finish(w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4] ^ w[5] ^ w[6] ^ w[7]);
  if (!(c->flags & STEER_IPV6)) return pair;
  __u32 h = scramble(bpf_ntohl(w[0]) & c->mask[0], c->key[0]) ^ scramble(bpf_ntohl(w[1]) & c->mask[1], c->key[1]) ^
            scramble(bpf_ntohl(w[2]) & c->mask[2], c->key[2]) ^ scramble(bpf_ntohl(w[3]) & c->mask[3], c->key[3]);
  return queue_of_shard(finish(h) & c->shard_mask, pair);
}

static __always_inline __u32 route4(struct __sk_buff *skb, struct steer_config *c, __u8 first) {
  __u8 h[20];
  if (bpf_skb_load_bytes(skb, 0, h, 20) < 0) return 0;
  __u32 src = ((__u32)h[12] << 24) | ((__u32)h[13] << 16) | ((__u32)h[14] << 8) | h[15];
  __u32 dst = ((__u32)h[16] << 24) | ((__u32)h[17] << 16) | ((__u32)h[18] << 8) | h[19];
  __u32 pair = finish(src ^ dst);
  if (!(c->flags & STEER_IPV4)) return pair;
  if (((h[6] & 0x3f) | h[7]) != 0) return pair; // a fragment (MF or an offset): routed in JavaScript
  __u32 l4 = (first & 15) * 4;
  __u32 slot;
  __u32 port;
  __u8 p[6];
  if (h[9] == 6 || h[9] == 17) {
    if (bpf_skb_load_bytes(skb, l4, p, 4) < 0) return pair;
    slot = h[9] == 6 ? 0 : 1;
    port = ((__u32)p[2] << 8) | p[3];
  } else if (h[9] == 1) {
    if (bpf_skb_load_bytes(skb, l4, p, 6) < 0) return pair;
    if (p[0] == 0 || p[0] == 8) {
      slot = 2;
      port = ((__u32)p[4] << 8) | p[5];
    } else if (p[0] == 3 || p[0] == 11 || p[0] == 12) {
      // An error quotes the packet the subscriber's flow sent: its source is the pool address and port.
      __u8 q[20];
      __u32 inner = l4 + 8;
      if (bpf_skb_load_bytes(skb, inner, q, 20) < 0 || (q[0] >> 4) != 4) return pair;
      __u32 innerL4 = inner + (q[0] & 15) * 4;
      if (bpf_skb_load_bytes(skb, innerL4, p, 6) < 0) return pair;
      dst = ((__u32)q[12] << 24) | ((__u32)q[13] << 16) | ((__u32)q[14] << 8) | q[15];
      if (q[9] == 6 || q[9] == 17) {
        slot = q[9] == 6 ? 0 : 1;
        port = ((__u32)p[0] << 8) | p[1];
      } else if (q[9] == 1) {
        slot = 2;
        port = ((__u32)p[4] << 8) | p[5];
      } else {
        return pair;
      }
    } else {
      return pair;
    }
  } else {
    return pair;
  }
  if (slot > 2 || port < c->port_first[slot] || port > c->port_last[slot] || c->block_size == 0) return pair;
  struct block_key key = {.address = dst, .slot_block = (slot << 24) | ((port - c->port_first[slot]) / c->block_size)};
  __u32 *shard = bpf_map_lookup_elem(&block_shard, &key);
  if (!shard) return pair;
  return queue_of_shard(*shard, pair);
}

SEC("socket")
int xlat64_steer(struct __sk_buff *skb) {
  __u32 zero = 0;
  struct steer_config *c = bpf_map_lookup_elem(&config, &zero);
  __u8 first;
  if (!c || bpf_skb_load_bytes(skb, 0, &first, 1) < 0) return 0;
  if ((first >> 4) == 6) return route6(skb, c);
  if ((first >> 4) == 4 && (first & 15) >= 5) return route4(skb, c, first);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
