// xlat64_xdp.bpf.c - the XDP program of libs/xdp: steers to the queue's AF_XDP socket only the frames
// the PLAT translates (IPv6 whose destination is in a PREF64, IPv4 whose destination is in the pool,
// both from LPM-trie maps the addon fills) and returns XDP_PASS for everything else (ARP, NDP, the
// node's own traffic), so the kernel keeps doing neighbour discovery. Compiled with clang -target bpf.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct lpm_key6 {
  __u32 prefixlen;
  __u8 addr[16];
};

struct lpm_key4 {
  __u32 prefixlen;
  __u8 addr[4];
};

// IPv6 destinations to translate (the PREF64s, RFC 6052).
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __type(key, struct lpm_key6);
  __type(value, __u32);
  __uint(max_entries, 64);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} xlat_pref64 SEC(".maps");

// IPv4 destinations to translate (the PLAT's pool).
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __type(key, struct lpm_key4);
  __type(value, __u32);
  __uint(max_entries, 256);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} xlat_pool4 SEC(".maps");

// rx queue index -> AF_XDP socket.
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 256);
} xlat_xsks SEC(".maps");

// Per-CPU counters, indices as XLAT_STAT_* (read and summed by the addon).
enum { XLAT_STAT_REDIRECTED = 0, XLAT_STAT_PASSED = 1, XLAT_STAT_NO_SOCKET = 2, XLAT_STAT_SLOTS = 4 };
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, XLAT_STAT_SLOTS);
} xlat_stats SEC(".maps");

static __always_inline int count(__u32 slot, int action) {
  __u64 *n = bpf_map_lookup_elem(&xlat_stats, &slot);
  if (n) *n += 1;
  return action;
}

SEC("xdp")
int xlat64_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return count(XLAT_STAT_PASSED, XDP_PASS);

  int ours = 0;
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > end) return count(XLAT_STAT_PASSED, XDP_PASS);
    struct lpm_key6 key = {.prefixlen = 128};
    __builtin_memcpy(key.addr, &ip6->daddr, 16);
    ours = bpf_map_lookup_elem(&xlat_pref64, &key) != 0;
  } else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip4 = (void *)(eth + 1);
    if ((void *)(ip4 + 1) > end) return count(XLAT_STAT_PASSED, XDP_PASS);
    struct lpm_key4 key = {.prefixlen = 32};
    __builtin_memcpy(key.addr, &ip4->daddr, 4);
    ours = bpf_map_lookup_elem(&xlat_pool4, &key) != 0;
  }
  if (!ours) return count(XLAT_STAT_PASSED, XDP_PASS);
  // No socket on this queue: the kernel gets the frame (and drops or forwards it as usual).
  int action = bpf_redirect_map(&xlat_xsks, ctx->rx_queue_index, XDP_PASS);
  return count(action == XDP_REDIRECT ? XLAT_STAT_REDIRECTED : XLAT_STAT_NO_SOCKET, action);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
