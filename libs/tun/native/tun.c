// tun.c - the N-API addon behind libs/tun: opens Linux TUN queues (/dev/net/tun, TUNSETIFF with
// IFF_MULTI_QUEUE / IFF_VNET_HDR), negotiates offloads (TUNSETOFFLOAD, TUNSETVNETHDRSZ) and moves
// packets in batches between a queue and a caller's buffer: poll(2) with a timeout, then
// non-blocking read(2)s until the batch is full. Kernel interface: Documentation/networking/tuntap.rst.
// A read can also wait on an eventfd(2) next to the queue (one per worker), so another thread that
// passed the worker packets through shared memory wakes it at once instead of at the poll timeout.
//
// Errors are thrown as JS errors whose `code` is the errno name (EPERM, EBUSY, ...), with `syscall`
// and `errno` set, and a message that names the device and the fix where one is known.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "napi-common.h"

// Debian 12's uapi headers predate UDP segmentation offload on TUN (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

// Room one read must have: a 65,535-byte IPv6 payload + 40-byte header + the virtio header, rounded.
#define PACKET_MAX_DEFAULT (65536 + 64)

static const char *errno_hint(int err, const char *syscall, const char *what) {
  switch (err) {
  case EPERM:
  case EACCES: return " — run as root or grant CAP_NET_ADMIN";
  case ENOENT:
    if (strcmp(what, "/dev/net/tun") == 0)
      return " — load the tun module (modprobe tun) or pass /dev/net/tun into the container";
    if (strncmp(what, "/run/netns/", 11) == 0) return " — no such network namespace (ip netns add NAME)";
    return "";
  case EBUSY: return " — the name is taken by a device with other flags (queue/vnet-header mode must match)";
  case EINVAL:
    if (strcmp(syscall, "TUNSETIFF") == 0) return " — the name exists as a non-TUN device or the flags do not match it";
    return "";
  case EBADF: return " — the queue was closed";
  default: return "";
  }
}

// Throws an Error with code = errno name, syscall and errno properties. Always returns NULL.
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  return throw_errno_hinted(env, err, syscall, what, errno_hint(err, syscall, what));
}

static int get_bool_prop(napi_env env, napi_value obj, const char *name, int *out) {
  napi_value v;
  bool has = false, b = false;
  *out = 0;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return 0;
  if (!has) return 1;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 1;
  if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
  *out = b ? 1 : 0;
  return 1;
}

// open(name: string, flags: { multiQueue?, vnetHdr? }, netnsPath?: string) -> { fd, name }
// With netnsPath (e.g. /run/netns/x64-plat) the calling thread enters that network namespace for
// the TUNSETIFF only, so the device is created there, then returns to its own namespace.
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "open(name, flags[, netnsPath]) needs a name and a flags object");

  char name[IFNAMSIZ + 1];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok)
    return throw_type(env, "open: name must be a string");
  if (name_len >= IFNAMSIZ) return throw_type(env, "open: name must be at most 15 bytes (IFNAMSIZ - 1)");

  int multi_queue = 0, vnet_hdr = 0;
  if (!get_bool_prop(env, argv[1], "multiQueue", &multi_queue) ||
      !get_bool_prop(env, argv[1], "vnetHdr", &vnet_hdr))
    return throw_type(env, "open: flags.multiQueue and flags.vnetHdr must be booleans");

  char netns[256] = {0};
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_string) {
      size_t l = 0;
      if (napi_get_value_string_utf8(env, argv[2], netns, sizeof netns, &l) != napi_ok || l >= sizeof netns - 1)
        return throw_type(env, "open: netnsPath must be a path shorter than 255 bytes");
    } else if (t != napi_undefined && t != napi_null) {
      return throw_type(env, "open: netnsPath must be a string");
    }
  }

  int own_ns = -1, target_ns = -1;
  if (netns[0]) {
    own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own_ns < 0) return throw_errno(env, errno, "open", "/proc/thread-self/ns/net");
    target_ns = open(netns, O_RDONLY | O_CLOEXEC);
    if (target_ns < 0) {
      int e = errno;
      close(own_ns);
      return throw_errno(env, e, "open", netns);
    }
    if (setns(target_ns, CLONE_NEWNET) < 0) {
      int e = errno;
      close(own_ns);
      close(target_ns);
      return throw_errno(env, e, "setns", netns);
    }
    close(target_ns);
  }

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  int err = fd < 0 ? errno : 0;
  const char *failed = "open";
  struct ifreq ifr;
  if (fd >= 0) {
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) | (vnet_hdr ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, name_len);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      failed = "TUNSETIFF";
      close(fd);
      fd = -1;
    }
  }

  if (own_ns >= 0) {
    // Returning to our own namespace cannot fail for a thread that just left it; if it ever does,
    // the thread would keep running in the wrong namespace, so treat it as fatal for this call.
    if (setns(own_ns, CLONE_NEWNET) < 0) {
      int e = errno;
      close(own_ns);
      if (fd >= 0) close(fd);
      return throw_errno(env, e, "setns", "back to the original namespace");
    }
    close(own_ns);
  }

  if (fd < 0) {
    char what[300];
    if (strcmp(failed, "open") == 0) snprintf(what, sizeof what, "/dev/net/tun");
    else snprintf(what, sizeof what, "%s", name_len ? name : "(kernel-chosen name)");
    return throw_errno(env, err, failed, what);
  }

  napi_value result, v;
  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_create_int32(env, fd, &v));
  CHECK_NAPI(env, napi_set_named_property(env, result, "fd", v));
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  CHECK_NAPI(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, result, "name", v));
  return result;
}

// setOffload(fd, flags) -> undefined. Raw TUNSETOFFLOAD; the TS side negotiates fallbacks.
static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, flags;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &flags))
    return throw_type(env, "setOffload(fd, flags) needs two integers");
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(uint32_t)flags) < 0)
    return throw_errno(env, errno, "TUNSETOFFLOAD", "on the TUN queue");
  return NULL;
}

// setVnetHdrSize(fd, bytes) -> undefined (TUNSETVNETHDRSZ; the kernel accepts >= 10).
static napi_value tun_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, size;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &size))
    return throw_type(env, "setVnetHdrSize(fd, bytes) needs two integers");
  int sz = size;
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) return throw_errno(env, errno, "TUNSETVNETHDRSZ", "on the TUN queue");
  return NULL;
}

// readBatch(fd, buffer, offsetsOut, lengthsOut, maxPackets, timeoutMs[, packetMaxBytes[, headroomBytes
//   [, wakeFd[, socketFd[, loopFd]]]]]) -> number of packets read (0 on timeout, -1 when woken through
//   wakeFd with no packet, -2 when socketFd became readable with no packet and no wake: the caller's event
//   loop reads it, -3 when loopFd (eventLoopFd()) became readable with none of the others: the calling
//   thread's event loop has I/O to handle (a reply on a NATS or Redis socket, a message on its port),
//   so the caller returns to it instead of leaving it waiting out the timeout).
// Waits up to timeoutMs for the queue (or the wake eventfd, when wakeFd >= 0) to become readable, then
// reads packets back to back into buffer (each at offsets[i], headroomBytes after the end of the
// previous one) until maxPackets were read, the queue is empty, or less than packetMaxBytes +
// headroomBytes is left. The wake eventfd is reset only when it alone was readable (-1 returned): when
// packets came too, it stays set and the next read returns -1 at once, so a wake is never lost.
static napi_value tun_read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, max_packets, timeout_ms, packet_max = PACKET_MAX_DEFAULT, headroom = 0, wake_fd = -1, socket_fd = -1,
                                       loop_fd = -1;
  uint8_t *buf;
  size_t buf_len, n_off, n_len;
  uint32_t *offsets, *lengths;
  if (argc < 6 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &buf_len) ||
      !get_u32s(env, argv[2], &offsets, &n_off) || !get_u32s(env, argv[3], &lengths, &n_len) ||
      !get_int(env, argv[4], &max_packets) || !get_int(env, argv[5], &timeout_ms) ||
      (argc >= 7 && !get_int(env, argv[6], &packet_max)) || (argc >= 8 && !get_int(env, argv[7], &headroom)) ||
      (argc >= 9 && !get_int(env, argv[8], &wake_fd)) || (argc >= 10 && !get_int(env, argv[9], &socket_fd)) ||
      (argc >= 11 && !get_int(env, argv[10], &loop_fd)))
    return throw_type(env, "readBatch(fd, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, "
                           "maxPackets, timeoutMs[, packetMaxBytes[, headroomBytes[, wakeFd[, socketFd[, loopFd]]]]])");
  if (max_packets < 0 || (size_t)max_packets > n_off || (size_t)max_packets > n_len)
    return throw_type(env, "readBatch: maxPackets exceeds offsets/lengths capacity");
  if (packet_max <= 0 || headroom < 0) return throw_type(env, "readBatch: packetMaxBytes > 0, headroomBytes >= 0");

  // poll(2) ignores entries with a negative fd: an absent wake or socket fd is simply never ready.
  struct pollfd pfd[4] = {{.fd = fd, .events = POLLIN, .revents = 0},
                          {.fd = wake_fd, .events = POLLIN, .revents = 0},
                          {.fd = socket_fd, .events = POLLIN, .revents = 0},
                          {.fd = loop_fd, .events = POLLIN, .revents = 0}};
  nfds_t nfds = loop_fd >= 0 ? 4 : socket_fd >= 0 ? 3 : wake_fd >= 0 ? 2 : 1;
  int pr;
  do {
    pr = poll(pfd, nfds, timeout_ms);
  } while (pr < 0 && errno == EINTR && timeout_ms == 0);
  if (pr < 0) {
    if (errno == EINTR) pr = 0; // a signal interrupted the wait: report an empty batch
    else return throw_errno(env, errno, "poll", "on the TUN queue");
  }
  if (pr > 0 && (pfd[0].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the TUN queue");
  if (pr > 0 && wake_fd >= 0 && (pfd[1].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the wake eventfd");
  if (pr > 0 && socket_fd >= 0 && (pfd[2].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the socket");
  if (pr > 0 && loop_fd >= 0 && (pfd[3].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the event loop fd");

  int count = 0;
  bool tun_ready = pr > 0 && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP));
  if (pr > 0 && !tun_ready && wake_fd >= 0 && (pfd[1].revents & POLLIN)) {
    // Woken by another thread with no packet on the queue: reset the eventfd (non-blocking) and say so.
    uint64_t value;
    ssize_t n;
    do {
      n = read(wake_fd, &value, sizeof value);
    } while (n < 0 && errno == EINTR);
    napi_value woken;
    CHECK_NAPI(env, napi_create_int32(env, -1, &woken));
    return woken;
  }
  if (pr > 0 && !tun_ready && socket_fd >= 0 && (pfd[2].revents & (POLLIN | POLLERR))) {
    // The caller's socket has datagrams and the queue has none: return, so its event loop reads them.
    napi_value readable;
    CHECK_NAPI(env, napi_create_int32(env, -2, &readable));
    return readable;
  }
  if (pr > 0 && !tun_ready && loop_fd >= 0 && (pfd[3].revents & POLLIN)) {
    // Only the event loop has something (its epoll set is ready): return, so the caller yields to it.
    napi_value loop_ready;
    CHECK_NAPI(env, napi_create_int32(env, -3, &loop_ready));
    return loop_ready;
  }
  if (pr > 0) {
    size_t pos = 0;
    while (count < max_packets) {
      size_t start = pos + (size_t)headroom;
      if (start > buf_len || buf_len - start < (size_t)packet_max) break;
      ssize_t n = read(fd, buf + start, (size_t)packet_max);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        if (count > 0) break; // deliver what we have; the error repeats on the next call
        return throw_errno(env, errno, "read", "from the TUN queue");
      }
      offsets[count] = (uint32_t)start;
      lengths[count] = (uint32_t)n;
      count++;
      // Keep packets 8-byte aligned so typed-array and DataView access stays cheap.
      pos = (start + (size_t)n + 7) & ~(size_t)7;
    }
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, count, &result));
  return result;
}

// writeBatch(fd, buffer, offsets, lengths, count) -> number of packets the kernel accepted.
// A packet the kernel refuses (EINVAL for a malformed vnet header, EIO when the device is down, ...)
// is skipped so one bad packet never stalls the batch; the caller counts count - returned as drops.
// EBADF (queue closed) throws.
static napi_value tun_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, count;
  uint8_t *buf;
  size_t buf_len, n_off, n_len;
  uint32_t *offsets, *lengths;
  if (argc < 5 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &buf_len) ||
      !get_u32s(env, argv[2], &offsets, &n_off) || !get_u32s(env, argv[3], &lengths, &n_len) ||
      !get_int(env, argv[4], &count))
    return throw_type(env, "writeBatch(fd, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count)");
  if (count < 0 || (size_t)count > n_off || (size_t)count > n_len)
    return throw_type(env, "writeBatch: count exceeds offsets/lengths length");

  int written = 0;
  for (int i = 0; i < count; i++) {
    size_t off = offsets[i], len = lengths[i];
    if (off > buf_len || len > buf_len - off) return throw_type(env, "writeBatch: a packet lies outside the buffer");
    ssize_t n;
    do {
      n = write(fd, buf + off, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EBADF || errno == EBADFD) return throw_errno(env, errno, "write", "to the TUN queue");
      continue;
    }
    written++;
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, written, &result));
  return result;
}

// eventLoopFd() -> fd: the calling thread's libuv backend fd (uv_backend_fd: its epoll instance, readable
// while any I/O the loop watches is ready), for readBatch's loopFd. Each worker thread has its own loop.
// libuv documents the fd for exactly this, embedding its loop's readiness in another wait. Not to close.
static napi_value tun_event_loop_fd(napi_env env, napi_callback_info info) {
  struct uv_loop_s *loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
  int loop_fd = loop == NULL ? -1 : uv_backend_fd(loop);
  if (loop_fd < 0) return throw_errno(env, EBADF, "uv_backend_fd", "of this thread's event loop");
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, loop_fd, &result));
  return result;
}

// createWakeFd() -> fd: an eventfd(2) (non-blocking, close-on-exec) a queue's readBatch can wait on
// next to its TUN fd, and any thread can signal with wake(fd). Closed with close(fd).
static napi_value tun_create_wake_fd(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "eventfd", "for a queue wake-up");
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, fd, &result));
  return result;
}

// wake(fd) -> undefined: adds 1 to the eventfd, so a readBatch waiting on it returns. A full counter
// (EAGAIN, after 2^64 - 2 wakes nobody read) already means "woken": not an error.
static napi_value tun_wake(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "wake(fd) needs an integer");
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(fd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN) return throw_errno(env, errno, "write", "to the wake eventfd");
  return NULL;
}

// close(fd) -> undefined
static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "close(fd) needs an integer");
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close", "the TUN queue");
  return NULL;
}

// Bytes one address takes in sendBatch's `addresses` (room for a struct sockaddr_in6).
#define UDP_ADDRESS_BYTES 32

// udpAddress(host: string, port, out: Uint8Array, offset) -> the sockaddr's length (16 for IPv4, 28 for
// IPv6), written at out[offset, offset + UDP_ADDRESS_BYTES). The host is an IP literal (inet_pton).
static napi_value udp_address(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t host_len = 0;
  int32_t port, offset;
  uint8_t *out;
  size_t out_len;
  if (argc < 4 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      !get_int(env, argv[1], &port) || !get_bytes(env, argv[2], &out, &out_len) || !get_int(env, argv[3], &offset))
    return throw_type(env, "udpAddress(host: string, port, out: Uint8Array, offset)");
  if (port < 0 || port > 65535 || offset < 0 || (size_t)offset + UDP_ADDRESS_BYTES > out_len)
    return throw_type(env, "udpAddress: port 0..65535 and room for the address at offset");
  uint8_t *at = out + offset;
  memset(at, 0, UDP_ADDRESS_BYTES);
  int32_t length;
  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
    memcpy(at, &v4, sizeof v4);
    length = sizeof v4;
  } else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
    memcpy(at, &v6, sizeof v6);
    length = sizeof v6;
  } else {
    return throw_type(env, "udpAddress: the host is not an IPv4 or IPv6 address");
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, length, &result));
  return result;
}

// sendBatch(fd, buffer, offsets, lengths, count, peerOf: Int32Array, addresses: Uint8Array,
//   errors: Int32Array) -> how many of the `count` datagrams were handed to the kernel or failed, in order.
// Datagram i is buffer[offsets[i], + lengths[i]) to the address at addresses[peerOf[i] * 32] (udpAddress),
// sent with sendmmsg(2) in chunks of 64 on the non-blocking socket `fd`. It stops at the first datagram
// the socket buffer has no room for (EAGAIN): the caller sends the rest another way. A datagram the kernel
// refuses for another reason (EMSGSIZE, EINVAL, an ICMP error reported on the socket) is skipped and
// counted in errors[0]; EBADF throws.
#define SEND_CHUNK 64
static napi_value udp_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, count;
  uint8_t *buf, *addrs;
  size_t buf_len, n_off, n_len, n_peer, addrs_len, n_err;
  uint32_t *offsets, *lengths;
  int32_t *peer_of, *errors;
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t byte_offset;
  if (argc < 8 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &buf_len) ||
      !get_u32s(env, argv[2], &offsets, &n_off) || !get_u32s(env, argv[3], &lengths, &n_len) ||
      !get_int(env, argv[4], &count) || !get_bytes(env, argv[6], &addrs, &addrs_len))
    return throw_type(env, "sendBatch(fd, buffer, offsets: Uint32Array, lengths: Uint32Array, count, "
                           "peerOf: Int32Array, addresses: Uint8Array, errors: Int32Array)");
  if (napi_get_typedarray_info(env, argv[5], &type, &n_peer, &ptr, &ab, &byte_offset) != napi_ok ||
      type != napi_int32_array)
    return throw_type(env, "sendBatch: peerOf must be an Int32Array");
  peer_of = ptr;
  if (napi_get_typedarray_info(env, argv[7], &type, &n_err, &ptr, &ab, &byte_offset) != napi_ok ||
      type != napi_int32_array || n_err < 1)
    return throw_type(env, "sendBatch: errors must be an Int32Array of length >= 1");
  errors = ptr;
  if (count < 0 || (size_t)count > n_off || (size_t)count > n_len || (size_t)count > n_peer)
    return throw_type(env, "sendBatch: count exceeds offsets/lengths/peerOf length");

  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  int done = 0;
  while (done < count) {
    int n = count - done < SEND_CHUNK ? count - done : SEND_CHUNK;
    for (int k = 0; k < n; k++) {
      int i = done + k;
      size_t off = offsets[i], len = lengths[i];
      size_t at = (size_t)peer_of[i] * UDP_ADDRESS_BYTES;
      if (off > buf_len || len > buf_len - off) return throw_type(env, "sendBatch: a datagram lies outside the buffer");
      if (peer_of[i] < 0 || at + UDP_ADDRESS_BYTES > addrs_len) return throw_type(env, "sendBatch: peerOf names no address");
      struct sockaddr *sa = (struct sockaddr *)(addrs + at);
      iov[k].iov_base = buf + off;
      iov[k].iov_len = len;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = sa;
      msgs[k].msg_hdr.msg_namelen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EBADF) return throw_errno(env, errno, "sendmmsg", "on the fabric socket");
      errors[0]++; // the first datagram of the chunk failed: skip it, send the rest
      done++;
      continue;
    }
    done += sent;
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, done, &result));
  return result;
}

// setReceiveBuffer(fd, bytes) -> the socket's receive buffer afterwards (SO_RCVBUF as the kernel reports
// it: twice what was granted, for its bookkeeping). SO_RCVBUFFORCE first (root or CAP_NET_ADMIN: past
// net.core.rmem_max, whose default of 208 KiB holds only ~200 small datagrams, one burst of a peer's
// sendmmsg), else SO_RCVBUF (capped at rmem_max).
static napi_value udp_set_receive_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, bytes;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &bytes) || bytes <= 0)
    return throw_type(env, "setReceiveBuffer(fd, bytes > 0)");
  int value = bytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof value) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof value) < 0)
    return throw_errno(env, errno, "setsockopt SO_RCVBUF", "on the socket");
  int actual = 0;
  socklen_t length = sizeof actual;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &length) < 0)
    return throw_errno(env, errno, "getsockopt SO_RCVBUF", "on the socket");
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, actual, &result));
  return result;
}

// recvBatch(fd, buffer, slotBytes, maxCount, lengths: Uint32Array, sources: Uint8Array) -> count.
// Reads up to maxCount waiting datagrams from the non-blocking UDP socket `fd` with one recvmmsg(2):
// datagram i lands at buffer[i * slotBytes] (lengths[i] bytes; 0 when it was longer than a slot and cut)
// and its sender's socket address at sources[i * 32]. 0 when nothing waits.
static napi_value udp_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, slot_bytes, max_count;
  uint8_t *buf, *sources;
  size_t buf_len, n_len, sources_len;
  uint32_t *lengths;
  if (argc < 6 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &buf_len) ||
      !get_int(env, argv[2], &slot_bytes) || !get_int(env, argv[3], &max_count) ||
      !get_u32s(env, argv[4], &lengths, &n_len) || !get_bytes(env, argv[5], &sources, &sources_len))
    return throw_type(env, "recvBatch(fd, buffer: Uint8Array, slotBytes, maxCount, lengths: Uint32Array, "
                           "sources: Uint8Array)");
  if (slot_bytes <= 0 || max_count < 0 || max_count > SEND_CHUNK || (size_t)max_count > n_len ||
      (size_t)max_count * (size_t)slot_bytes > buf_len || (size_t)max_count * UDP_ADDRESS_BYTES > sources_len)
    return throw_type(env, "recvBatch: maxCount (at most 64) slots must fit buffer, lengths and sources");
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  for (int i = 0; i < max_count; i++) {
    iov[i].iov_base = buf + (size_t)i * (size_t)slot_bytes;
    iov[i].iov_len = (size_t)slot_bytes;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = sources + (size_t)i * UDP_ADDRESS_BYTES;
    msgs[i].msg_hdr.msg_namelen = UDP_ADDRESS_BYTES;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int n;
  do {
    n = max_count == 0 ? 0 : recvmmsg(fd, msgs, (unsigned)max_count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EBADF) return throw_errno(env, errno, "recvmmsg", "on the fabric socket");
    n = 0; // EAGAIN (nothing waits) or an error reported on the socket (an ICMP error): nothing read
  }
  for (int i = 0; i < n; i++) lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : msgs[i].msg_len;
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, n, &result));
  return result;
}

static napi_value constants(napi_env env) {
  napi_value obj, v;
  napi_create_object(env, &obj);
#define C(name)                                                                                    \
  napi_create_uint32(env, (uint32_t)(name), &v);                                                   \
  napi_set_named_property(env, obj, #name, v)
  C(TUN_F_CSUM);
  C(TUN_F_TSO4);
  C(TUN_F_TSO6);
  C(TUN_F_TSO_ECN);
  C(TUN_F_UFO);
  C(TUN_F_USO4);
  C(TUN_F_USO6);
  C(IFNAMSIZ);
#undef C
  return obj;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setOffload", NULL, tun_set_offload, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setVnetHdrSize", NULL, tun_set_vnet_hdr_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readBatch", NULL, tun_read_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"eventLoopFd", NULL, tun_event_loop_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, tun_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"createWakeFd", NULL, tun_create_wake_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wake", NULL, tun_wake, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, tun_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpAddress", NULL, udp_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, udp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvBatch", NULL, udp_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setReceiveBuffer", NULL, udp_set_receive_buffer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"constants", NULL, NULL, NULL, NULL, constants(env), napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
