// udp-flood.c - the traffic generator of libs/xdp/bench/xdp-io.bench.ts: sends one 64-byte IPv4/UDP
// packet (78-byte Ethernet frame) over and over through an AF_PACKET socket with sendmmsg() batches of
// 64 and the qdisc bypassed, for a number of seconds, then prints how many frames the kernel took.
// Usage: udp-flood IFNAME DST_MAC SRC_MAC SECONDS [6 [SRC6 DST6]]   (run inside the sender's namespace)
// IPv4: 192.0.2.1:5000 -> 198.51.100.7:5001. With 6: an IPv6-only client's 64-byte IPv6/UDP packet,
// 2001:db8::1:5000 -> 64:ff9b::c000:201 (192.0.2.1 in the PREF64):9, for a NAT64 to translate; SRC6 and
// DST6 replace the two addresses. (The PLAT flood benches use infra/lab/trafgen-flood.sh instead.)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint16_t csum(const uint8_t *p, int n) {
  uint32_t s = 0;
  for (int i = 0; i < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static int mac(const char *t, uint8_t *out) {
  return sscanf(t, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &out[0], &out[1], &out[2], &out[3], &out[4], &out[5]) == 6;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  uint8_t frame[14 + 64] = {0};
  if ((argc != 5 && argc != 6 && argc != 8) || !mac(argv[2], frame) || !mac(argv[3], frame + 6)) {
    fprintf(stderr, "usage: udp-flood IFNAME DST_MAC SRC_MAC SECONDS [6 [SRC6 DST6]]\n");
    return 2;
  }
  double seconds = atof(argv[4]);
  frame[12] = 0x08;
  int v6 = argc >= 6 && strcmp(argv[5], "6") == 0;
  size_t frame_len = 78;
  uint8_t *ip = frame + 14;
  if (v6) {
    frame[12] = 0x86, frame[13] = 0xdd;
    ip[0] = 0x60;
    ip[5] = 24; // payload length: UDP 8 + 16
    ip[6] = 17;
    ip[7] = 64;
    uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    uint8_t dst[16] = {0x00, 0x64, 0xff, 0x9b, [12] = 192, 0, 2, 1};
    if (argc == 8 && (inet_pton(AF_INET6, argv[6], src) != 1 || inet_pton(AF_INET6, argv[7], dst) != 1)) {
      fprintf(stderr, "udp-flood: SRC6 and DST6 must be IPv6 addresses\n");
      return 2;
    }
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    uint8_t *udp = ip + 40;
    udp[0] = 0x13, udp[1] = 0x88; // 5000
    udp[3] = 9;                   // discard
    udp[5] = 24;
    memset(udp + 8, 'x', 16);
    // Checksum over the pseudo-header (addresses, length, next header) and the datagram.
    uint8_t pseudo[40 + 24] = {0};
    memcpy(pseudo, ip + 8, 32);
    pseudo[35] = 24;
    pseudo[39] = 17;
    memcpy(pseudo + 40, udp, 24);
    uint16_t c = csum(pseudo, sizeof pseudo);
    udp[6] = c >> 8, udp[7] = c & 0xff;
    frame_len = 14 + 64;
    goto send;
  }
  ip[0] = 0x45;
  ip[3] = 64; // total length
  ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 17;
  memcpy(ip + 12, (uint8_t[]){192, 0, 2, 1, 198, 51, 100, 7}, 8);
  uint16_t s = csum(ip, 20);
  ip[10] = s >> 8;
  ip[11] = s & 0xff;
  uint8_t *udp = ip + 20;
  udp[0] = 0x13, udp[1] = 0x88; // 5000
  udp[2] = 0x13, udp[3] = 0x89; // 5001
  udp[5] = 44;                  // length; checksum 0 (none)
  memset(udp + 8, 'x', 36);
send:;

  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) return perror("socket"), 1;
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1]), .sll_halen = 6};
  if (!sll.sll_ifindex) return perror("if_nametoindex"), 1;
  memcpy(sll.sll_addr, frame, 6);
  struct iovec iov = {.iov_base = frame, .iov_len = frame_len};
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++)
    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &sll, .msg_namelen = sizeof sll, .msg_iov = &iov, .msg_iovlen = 1}};
  unsigned long long sent = 0;
  double end = now() + seconds;
  while (now() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += (unsigned)n;
  }
  printf("%llu\n", sent);
  return 0;
}
