// xdp.c - the N-API addon behind libs/xdp: attaches the xlat64 XDP program (xlat64_xdp.bpf.o, loaded
// with libbpf) to an interface, native mode when the driver has it and generic (skb) mode otherwise,
// and opens one AF_XDP socket per queue (libxdp's xsk API, its own program loading inhibited) over a
// UMEM that JavaScript sees as an external ArrayBuffer. RX, TX, fill and completion rings are driven
// in batches: receive() peeks the RX ring and polls only when it is empty; send() queues a batch of TX
// descriptors and kicks the kernel with one sendto(). Kernel: Documentation/networking/af_xdp.rst.
//
// Frame ownership (per queue): a frame is free, in the kernel (fill/RX or TX/completion), or lent to
// JavaScript. receive() and alloc() lend frames until the next receive(); send() hands lent frames to
// the kernel until their completion comes back. So a handler may forward a received frame in place
// (zero copy) or build new ones in allocated frames; whatever it did not send is recycled.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#define PROGRAM_NAME "xlat64_xdp"
#define MAX_PORTS 64
#define MAX_QUEUES 64
#define STAT_SLOTS 4
// Bytes the kernel leaves free before each received frame on top of XDP_PACKET_HEADROOM (256): 2, as
// NET_IP_ALIGN, so the IP header after the 14-byte Ethernet header starts 16-byte aligned (offset 272).
#define FRAME_HEADROOM 2

// The UMEM pages, unmapped when the queue is closed and JavaScript dropped every ArrayBuffer over them.
struct area_ref {
  void *area;
  size_t bytes;
  atomic_int refs;
};

static void area_release(struct area_ref *m) {
  if (atomic_fetch_sub(&m->refs, 1) == 1) {
    munmap(m->area, m->bytes);
    free(m);
  }
}

enum frame_state { FRAME_FREE = 0, FRAME_KERNEL = 1, FRAME_LENT = 2 };

struct queue {
  struct xsk_socket *xsk;
  struct xsk_umem *umem;
  struct xsk_ring_prod fill;
  struct xsk_ring_cons comp;
  struct xsk_ring_cons rx;
  struct xsk_ring_prod tx;
  uint8_t *area;
  size_t area_bytes;
  uint32_t frame_count;
  uint32_t frame_size;
  uint32_t *free_stack; // frame indices
  uint32_t free_count;
  uint8_t *state;       // enum frame_state per frame
  uint32_t *lent;       // frames lent to JavaScript since the last receive()
  uint32_t lent_count;
  uint32_t queue_id;
  int fd;
  int zero_copy;
  int zero_copy_errno; // why a native-mode bind with XDP_ZEROCOPY was refused (0: granted or not tried)
  // Counters (read by stats()): frames the handler sent that were refused (not lent / ring full).
  uint64_t tx_refused, tx_ring_full, tx_no_frame, wakeups, polls;
  struct area_ref *mem; // owns `area`: the queue and every external ArrayBuffer over it hold a reference
};

struct port {
  char ifname[IF_NAMESIZE];
  char netns[256]; // where ifindex lives: close() detaches from there
  int ifindex;
  uint32_t attach_flags; // XDP_FLAGS_* the program was attached with
  uint32_t prog_id;
  struct bpf_object *obj;
  int xsks_map_fd, pref64_fd, pool4_fd, stats_fd;
  int queue_count;
  struct queue queues[MAX_QUEUES];
};

static struct port *ports[MAX_PORTS];
static pthread_mutex_t ports_lock = PTHREAD_MUTEX_INITIALIZER;

// ---------------------------------------------------------------------------------------------------
// Errors

static const char *errno_name(int err) {
  switch (err) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EINTR: return "EINTR";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case EINVAL: return "EINVAL";
  case ENOSPC: return "ENOSPC";
  case ENOBUFS: return "ENOBUFS";
  case ENXIO: return "ENXIO";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case E2BIG: return "E2BIG";
  case ERANGE: return "ERANGE";
  default: return "EUNKNOWN";
  }
}

static const char *errno_hint(int err, const char *syscall) {
  switch (err) {
  case EPERM:
  case EACCES: return " — run as root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN) and raise RLIMIT_MEMLOCK";
  case ENODEV: return " — no such interface in that network namespace";
  case EBUSY:
    if (strcmp(syscall, "bpf_xdp_attach") == 0)
      return " — another XDP program is attached to the interface (not xlat64's): detach it with `ip link set dev IF xdp off`";
    return " — the queue already has an AF_XDP socket (another process?)";
  case EINVAL:
    if (strcmp(syscall, "xsk_socket__create") == 0) return " — the queue id exceeds the interface's queue count (ethtool -l IF)";
    return "";
  default: return "";
  }
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  if (err < 0) err = -err;
  char msg[512];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)%s", syscall, what, errno_name(err), strerror(err), errno_hint(err, syscall));
  napi_value code, message, error, v;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "XLAT64_ERR_XDP_ARGUMENT", msg);
  return NULL;
}

#define CHECK_NAPI(env, call)                                                                      \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error((env), "XLAT64_ERR_XDP_NAPI", "N-API call failed: " #call);                \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

// ---------------------------------------------------------------------------------------------------
// Argument helpers

static int get_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

static int get_u32s(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint32_array) return 0;
  *data = ptr;
  *len = length;
  return 1;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = ptr;
  *len = length;
  return 1;
}

static napi_value prop(napi_env env, napi_value obj, const char *name) {
  napi_value v = NULL;
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return NULL;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return NULL;
  return v;
}

static int prop_string(napi_env env, napi_value obj, const char *name, char *out, size_t size) {
  napi_value v = prop(env, obj, name);
  out[0] = 0;
  if (!v) return 1;
  size_t l = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &l) != napi_ok) return 0;
  return l < size - 1;
}

static int prop_int(napi_env env, napi_value obj, const char *name, int32_t *out, int32_t fallback) {
  napi_value v = prop(env, obj, name);
  *out = fallback;
  if (!v) return 1;
  return get_int(env, v, out);
}

static struct port *port_of(napi_env env, napi_value v) {
  int32_t h;
  if (!get_int(env, v, &h) || h < 0 || h >= MAX_PORTS || !ports[h]) return NULL;
  return ports[h];
}

static struct queue *queue_of(napi_env env, napi_value handle, napi_value index) {
  struct port *p = port_of(env, handle);
  int32_t q;
  if (!p || !get_int(env, index, &q) || q < 0 || q >= p->queue_count) return NULL;
  return &p->queues[q];
}

// ---------------------------------------------------------------------------------------------------
// Namespaces: like libs/tun, the calling thread enters the target namespace for the setup calls only.

static int enter_netns(const char *path, int *own) {
  *own = -1;
  if (!path[0]) return 0;
  *own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*own < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(*own);
    *own = -1;
    return -e;
  }
  int r = setns(target, CLONE_NEWNET);
  int e = errno;
  close(target);
  if (r < 0) {
    close(*own);
    *own = -1;
    return -e;
  }
  return 0;
}

static int leave_netns(int own) {
  if (own < 0) return 0;
  int r = setns(own, CLONE_NEWNET);
  int e = errno;
  close(own);
  return r < 0 ? -e : 0;
}

// ---------------------------------------------------------------------------------------------------
// Program attach / detach

// The id and name of the XDP program attached to ifindex in `mode_flags` (0 = whichever), or 0.
static uint32_t attached_program(int ifindex, uint32_t *mode_flags, char name[BPF_OBJ_NAME_LEN]) {
  struct bpf_xdp_query_opts q = {.sz = sizeof q};
  name[0] = 0;
  if (bpf_xdp_query(ifindex, 0, &q) < 0) return 0;
  uint32_t id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
  if (mode_flags) *mode_flags = q.drv_prog_id ? XDP_FLAGS_DRV_MODE : q.skb_prog_id ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_HW_MODE;
  if (!id) return 0;
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd >= 0) {
    struct bpf_prog_info info = {0};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) memcpy(name, info.name, BPF_OBJ_NAME_LEN);
    close(fd);
  }
  return id;
}

// Detaches an xlat64 program a crashed process left on the interface. Returns 1 if one was removed,
// 0 if none, -EBUSY if a foreign program is attached.
static int detach_stale(int ifindex) {
  char name[BPF_OBJ_NAME_LEN];
  uint32_t mode = 0;
  uint32_t id = attached_program(ifindex, &mode, name);
  if (!id) return 0;
  if (strncmp(name, PROGRAM_NAME, BPF_OBJ_NAME_LEN) != 0) return -EBUSY;
  int r = bpf_xdp_detach(ifindex, mode, NULL);
  return r < 0 ? r : 1;
}

static void queue_destroy(struct queue *q) {
  if (q->xsk) xsk_socket__delete(q->xsk);
  q->xsk = NULL;
  if (q->umem) xsk_umem__delete(q->umem);
  q->umem = NULL;
  free(q->free_stack);
  free(q->state);
  free(q->lent);
  q->free_stack = NULL;
  q->state = NULL;
  q->lent = NULL;
  // The UMEM pages stay mapped while JavaScript still holds an ArrayBuffer over them.
  if (q->mem) area_release(q->mem);
  q->mem = NULL;
  q->area = NULL;
}

static void port_destroy(struct port *p) {
  for (int i = 0; i < p->queue_count; i++) queue_destroy(&p->queues[i]);
  p->queue_count = 0;
  if (p->prog_id) {
    // Detach only our own program (an operator may have replaced it since).
    uint32_t current = 0;
    if (bpf_xdp_query_id(p->ifindex, p->attach_flags, &current) == 0 && current == p->prog_id)
      bpf_xdp_detach(p->ifindex, p->attach_flags, NULL);
    p->prog_id = 0;
  }
  if (p->obj) bpf_object__close(p->obj);
  p->obj = NULL;
}

// port_destroy from any thread: the netlink detach must run where the ifindex lives.
static int port_destroy_in_ns(struct port *p) {
  int own;
  int r = enter_netns(p->netns, &own);
  port_destroy(p); // even if entering failed: the sockets and the UMEM are released regardless
  int back = r ? 0 : leave_netns(own);
  return r ? r : back;
}

static uint32_t refill(struct queue *q);

static int queue_create(struct port *p, struct queue *q, uint32_t queue_id, uint32_t frames, uint32_t frame_size,
                        uint32_t ring, uint32_t xdp_flags, const char **failed) {
  q->queue_id = queue_id;
  q->frame_count = frames;
  q->frame_size = frame_size;
  q->area_bytes = (size_t)frames * frame_size;
  q->area = mmap(NULL, q->area_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q->area == MAP_FAILED) {
    q->area = NULL;
    *failed = "mmap";
    return -errno;
  }
  q->mem = malloc(sizeof *q->mem);
  if (!q->mem) {
    munmap(q->area, q->area_bytes);
    q->area = NULL;
    *failed = "malloc";
    return -ENOMEM;
  }
  q->mem->area = q->area;
  q->mem->bytes = q->area_bytes;
  atomic_init(&q->mem->refs, 1);
  q->free_stack = calloc(frames, sizeof *q->free_stack);
  q->state = calloc(frames, 1);
  q->lent = calloc(frames, sizeof *q->lent);
  if (!q->free_stack || !q->state || !q->lent) {
    *failed = "calloc";
    return -ENOMEM;
  }
  for (uint32_t i = 0; i < frames; i++) q->free_stack[i] = frames - 1 - i;
  q->free_count = frames;

  struct xsk_umem_config uc = {
      .fill_size = ring, .comp_size = ring, .frame_size = frame_size, .frame_headroom = FRAME_HEADROOM, .flags = 0};
  struct xsk_socket_config sc = {.rx_size = ring,
                                 .tx_size = ring,
                                 .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                                 .xdp_flags = xdp_flags,
                                 .bind_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY};
  // Native mode: ask for zero-copy first (the NIC DMAs into the UMEM, no skb per sent frame); a driver
  // without it (veth, most virtual NICs) refuses the bind. The refusal is kept for `xlat64 status` and
  // the socket is made again in copy mode, on a fresh UMEM registration (a refused bind leaves the
  // first one's fill and completion rings set up). Generic mode is always copy mode.
  int r = 0;
  for (int attempt = p->attach_flags == XDP_FLAGS_DRV_MODE ? 0 : 1; attempt < 2; attempt++) {
    if (attempt == 1) sc.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
    r = xsk_umem__create(&q->umem, q->area, q->area_bytes, &q->fill, &q->comp, &uc);
    if (r) {
      q->umem = NULL;
      *failed = "xsk_umem__create";
      return r;
    }
    r = xsk_socket__create(&q->xsk, p->ifname, queue_id, q->umem, &q->rx, &q->tx, &sc);
    if (r == 0) break;
    q->xsk = NULL;
    xsk_umem__delete(q->umem);
    q->umem = NULL;
    if (attempt == 0) q->zero_copy_errno = -r;
  }
  if (r) {
    *failed = "xsk_socket__create";
    return r;
  }
  q->fd = xsk_socket__fd(q->xsk);
  struct xdp_options opts = {0};
  socklen_t ol = sizeof opts;
  if (getsockopt(q->fd, SOL_XDP, XDP_OPTIONS, &opts, &ol) == 0) q->zero_copy = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
  r = xsk_socket__update_xskmap(q->xsk, p->xsks_map_fd);
  if (r) {
    *failed = "xsk_socket__update_xskmap";
    return r;
  }
  refill(q);
  return 0;
}

static int prefix_insert(int map_fd, const uint8_t *addr, int addr_bytes, uint32_t prefix_len) {
  uint8_t key[4 + 16] = {0};
  memcpy(key, &prefix_len, 4);
  memcpy(key + 4, addr, addr_bytes);
  uint32_t one = 1;
  return bpf_map_update_elem(map_fd, key, &one, BPF_ANY) < 0 ? -errno : 0;
}

// Reads prefixes: an array of { bytes: Uint8Array(16|4), length }.
static int insert_prefixes(napi_env env, napi_value list, int map_fd, int addr_bytes, int *bad) {
  *bad = 0;
  if (!list) return 0;
  uint32_t n = 0;
  if (napi_get_array_length(env, list, &n) != napi_ok) {
    *bad = 1;
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e, bytes_v, len_v;
    uint8_t *bytes;
    size_t blen;
    int32_t plen;
    if (napi_get_element(env, list, i, &e) != napi_ok || !(bytes_v = prop(env, e, "bytes")) ||
        !(len_v = prop(env, e, "length")) || !get_bytes(env, bytes_v, &bytes, &blen) || (int)blen != addr_bytes ||
        !get_int(env, len_v, &plen) || plen < 0 || plen > addr_bytes * 8) {
      *bad = 1;
      return 0;
    }
    int r = prefix_insert(map_fd, bytes, addr_bytes, (uint32_t)plen);
    if (r) return r;
  }
  return 0;
}

// open({ ifname, netnsPath?, programPath, queues, frames, frameSize, ringSize, mode: 'auto'|'native'|'generic',
//        pref64: [{bytes, length}], pool4: [{bytes, length}] })
//   -> { handle, ifindex, mode: 'native'|'generic', zeroCopy, replacedStale, programId }
static napi_value xdp_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "open(options) needs an options object");
  napi_value o = argv[0];
  char program[1024], mode[16];
  int32_t queues, frames, frame_size, ring;
  struct port *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, ENOMEM, "calloc", "port");
  if (!prop_string(env, o, "ifname", p->ifname, sizeof p->ifname) || !p->ifname[0] ||
      !prop_string(env, o, "netnsPath", p->netns, sizeof p->netns) ||
      !prop_string(env, o, "programPath", program, sizeof program) || !program[0] ||
      !prop_string(env, o, "mode", mode, sizeof mode) || !prop_int(env, o, "queues", &queues, 1) ||
      !prop_int(env, o, "frames", &frames, 4096) || !prop_int(env, o, "frameSize", &frame_size, 4096) ||
      !prop_int(env, o, "ringSize", &ring, 2048)) {
    free(p);
    return throw_type(env, "open: ifname (≤ 15 bytes) and programPath are required strings; queues, frames, "
                           "frameSize, ringSize integers; mode 'auto' | 'native' | 'generic'");
  }
  if (queues < 1 || queues > MAX_QUEUES || frames < 64 || (frame_size != 2048 && frame_size != 4096) || ring < 64 ||
      (ring & (ring - 1)) || ring > frames) {
    free(p);
    return throw_type(env, "open: queues 1..64, frames ≥ 64, frameSize 2048 or 4096, ringSize a power of two ≤ frames");
  }
  int want_native = strcmp(mode, "native") == 0, want_generic = strcmp(mode, "generic") == 0;
  if (mode[0] && !want_native && !want_generic && strcmp(mode, "auto") != 0) {
    free(p);
    return throw_type(env, "open: mode must be 'auto', 'native' or 'generic'");
  }

  int own_ns;
  int r = enter_netns(p->netns, &own_ns);
  if (r) {
    free(p);
    return throw_errno(env, r, "setns", p->netns);
  }
  const char *failed = NULL;
  char what[1100];
  snprintf(what, sizeof what, "%s", p->ifname);
  int replaced = 0;

  p->ifindex = if_nametoindex(p->ifname);
  if (!p->ifindex) {
    r = -errno;
    failed = "if_nametoindex";
    goto out;
  }
  r = detach_stale(p->ifindex);
  if (r < 0) {
    failed = "bpf_xdp_attach";
    goto out;
  }
  replaced = r;
  p->obj = bpf_object__open_file(program, NULL);
  if (!p->obj) {
    r = -errno;
    p->obj = NULL;
    failed = "bpf_object__open_file";
    snprintf(what, sizeof what, "%s", program);
    goto out;
  }
  r = bpf_object__load(p->obj);
  if (r) {
    failed = "bpf_object__load";
    snprintf(what, sizeof what, "%s", program);
    goto out;
  }
  struct bpf_program *prog = bpf_object__find_program_by_name(p->obj, PROGRAM_NAME);
  if (!prog) {
    r = -ENOENT;
    failed = "bpf_object__find_program_by_name";
    snprintf(what, sizeof what, "%s in %s", PROGRAM_NAME, program);
    goto out;
  }
  p->xsks_map_fd = bpf_object__find_map_fd_by_name(p->obj, "xlat_xsks");
  p->pref64_fd = bpf_object__find_map_fd_by_name(p->obj, "xlat_pref64");
  p->pool4_fd = bpf_object__find_map_fd_by_name(p->obj, "xlat_pool4");
  p->stats_fd = bpf_object__find_map_fd_by_name(p->obj, "xlat_stats");
  if (p->xsks_map_fd < 0 || p->pref64_fd < 0 || p->pool4_fd < 0 || p->stats_fd < 0) {
    r = -ENOENT;
    failed = "bpf_object__find_map_fd_by_name";
    snprintf(what, sizeof what, "maps of %s", program);
    goto out;
  }
  int bad = 0;
  r = insert_prefixes(env, prop(env, o, "pref64"), p->pref64_fd, 16, &bad);
  if (!r && !bad) r = insert_prefixes(env, prop(env, o, "pool4"), p->pool4_fd, 4, &bad);
  if (bad) {
    r = -EINVAL;
    failed = "prefixes";
    snprintf(what, sizeof what, "pref64/pool4 entries must be { bytes: Uint8Array(16|4), length }");
    goto out;
  }
  if (r) {
    failed = "bpf_map_update_elem";
    snprintf(what, sizeof what, "prefix maps");
    goto out;
  }
  int prog_fd = bpf_program__fd(prog);
  uint32_t flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
  r = -EOPNOTSUPP;
  if (!want_generic) {
    r = bpf_xdp_attach(p->ifindex, prog_fd, flags | XDP_FLAGS_DRV_MODE, NULL);
    if (r == 0) p->attach_flags = XDP_FLAGS_DRV_MODE;
  }
  if (r && !want_native) {
    r = bpf_xdp_attach(p->ifindex, prog_fd, flags | XDP_FLAGS_SKB_MODE, NULL);
    if (r == 0) p->attach_flags = XDP_FLAGS_SKB_MODE;
  }
  if (r) {
    failed = "bpf_xdp_attach";
    goto out;
  }
  bpf_xdp_query_id(p->ifindex, p->attach_flags, &p->prog_id);
  for (int i = 0; i < queues; i++) {
    p->queue_count = i + 1;
    r = queue_create(p, &p->queues[i], (uint32_t)i, (uint32_t)frames, (uint32_t)frame_size, (uint32_t)ring,
                     p->attach_flags, &failed);
    if (r) {
      snprintf(what, sizeof what, "%s queue %d", p->ifname, i);
      goto out;
    }
  }

out:;
  int back = leave_netns(own_ns);
  if (r || back) {
    port_destroy_in_ns(p);
    free(p);
    if (back) return throw_errno(env, back, "setns", "back to the original namespace");
    return throw_errno(env, r, failed, what);
  }
  pthread_mutex_lock(&ports_lock);
  int handle = -1;
  for (int i = 0; i < MAX_PORTS; i++)
    if (!ports[i]) {
      ports[i] = p;
      handle = i;
      break;
    }
  pthread_mutex_unlock(&ports_lock);
  if (handle < 0) {
    port_destroy_in_ns(p);
    free(p);
    return throw_errno(env, EMFILE, "open", "xdp ports (64 open at most)");
  }

  napi_value result, v;
  CHECK_NAPI(env, napi_create_object(env, &result));
  napi_create_int32(env, handle, &v);
  napi_set_named_property(env, result, "handle", v);
  napi_create_int32(env, p->ifindex, &v);
  napi_set_named_property(env, result, "ifindex", v);
  napi_create_string_utf8(env, p->attach_flags == XDP_FLAGS_DRV_MODE ? "native" : "generic", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "mode", v);
  napi_get_boolean(env, p->queues[0].zero_copy, &v);
  napi_set_named_property(env, result, "zeroCopy", v);
  if (p->queues[0].zero_copy_errno != 0) {
    napi_create_string_utf8(env, errno_name(p->queues[0].zero_copy_errno), NAPI_AUTO_LENGTH, &v);
  } else {
    napi_get_null(env, &v);
  }
  napi_set_named_property(env, result, "zeroCopyRefused", v);
  napi_get_boolean(env, replaced, &v);
  napi_set_named_property(env, result, "replacedStale", v);
  napi_create_uint32(env, p->prog_id, &v);
  napi_set_named_property(env, result, "programId", v);
  return result;
}

// detachStale(ifname, netnsPath?) -> true when an xlat64 program was found and detached.
static napi_value xdp_detach_stale(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IF_NAMESIZE] = {0}, netns[256] = {0};
  size_t l;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &l) != napi_ok)
    return throw_type(env, "detachStale(ifname[, netnsPath])");
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_string && napi_get_value_string_utf8(env, argv[1], netns, sizeof netns, &l) != napi_ok)
      return throw_type(env, "detachStale: netnsPath must be a string");
  }
  int own;
  int r = enter_netns(netns, &own);
  if (r) return throw_errno(env, r, "setns", netns);
  int ifindex = if_nametoindex(ifname);
  r = ifindex ? detach_stale(ifindex) : -errno;
  int back = leave_netns(own);
  if (back) return throw_errno(env, back, "setns", "back to the original namespace");
  if (r < 0) return throw_errno(env, r, ifindex ? "bpf_xdp_attach" : "if_nametoindex", ifname);
  napi_value v;
  napi_get_boolean(env, r == 1, &v);
  return v;
}

static void umem_finalize(napi_env env, void *data, void *hint) { area_release(hint); }

// umem(handle, queue) -> ArrayBuffer over the queue's UMEM (no copy), for the calling thread. The pages
// stay mapped until close() ran and every such ArrayBuffer was collected.
static napi_value xdp_umem(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "umem(handle, queue)");
  struct queue *q = queue_of(env, argv[0], argv[1]);
  if (!q || !q->mem) return throw_type(env, "umem: no such open port/queue");
  atomic_fetch_add(&q->mem->refs, 1);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, q->area, q->area_bytes, umem_finalize, q->mem, &ab) != napi_ok) {
    area_release(q->mem);
    napi_throw_error(env, "XLAT64_ERR_XDP_NAPI", "napi_create_external_arraybuffer failed (a V8 sandbox build?)");
    return NULL;
  }
  return ab;
}

static uint32_t reap_completions(struct queue *q) {
  uint32_t idx;
  uint32_t n = xsk_ring_cons__peek(&q->comp, q->frame_count, &idx);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t addr = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
    uint32_t f = (uint32_t)(addr / q->frame_size);
    if (f < q->frame_count && q->state[f] == FRAME_KERNEL) {
      q->state[f] = FRAME_FREE;
      q->free_stack[q->free_count++] = f;
    }
  }
  if (n) xsk_ring_cons__release(&q->comp, n);
  return n;
}

// Keeps half the frames on the fill ring at most, so the other half is free for sending.
static uint32_t refill(struct queue *q) {
  uint32_t want = xsk_prod_nb_free(&q->fill, q->free_count);
  if (want > q->free_count) want = q->free_count;
  // Keep a reserve for TX of new frames.
  uint32_t reserve = q->frame_count / 4;
  if (q->free_count <= reserve) return 0;
  if (want > q->free_count - reserve) want = q->free_count - reserve;
  if (!want) return 0;
  uint32_t idx;
  uint32_t n = xsk_ring_prod__reserve(&q->fill, want, &idx);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t f = q->free_stack[--q->free_count];
    q->state[f] = FRAME_KERNEL;
    *xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)f * q->frame_size;
  }
  if (n) xsk_ring_prod__submit(&q->fill, n);
  return n;
}

static void recycle_lent(struct queue *q) {
  for (uint32_t i = 0; i < q->lent_count; i++) {
    uint32_t f = q->lent[i];
    if (q->state[f] == FRAME_LENT) {
      q->state[f] = FRAME_FREE;
      q->free_stack[q->free_count++] = f;
    }
  }
  q->lent_count = 0;
}

// receive(handle, queue, offsets, lengths, maxPackets, timeoutMs[, loopFd]) -> count.
// Frames lent by the previous receive()/alloc() and not sent are recycled first. Packet i is
// umem[offsets[i] .. offsets[i] + lengths[i]) (Ethernet header first); 256 bytes of headroom precede
// it in its frame (258 with FRAME_HEADROOM). Polls (up to timeoutMs) only when the RX ring is empty.
// With loopFd (libs/tun's eventLoopFd(): the calling thread's libuv backend fd) the wait also ends when
// that event loop has I/O ready; -1 is returned then if no frame came, so the caller yields to its loop.
static napi_value xdp_receive(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t *offsets, *lengths;
  size_t n_off, n_len;
  int32_t max, timeout, loop_fd = -1;
  struct queue *q = argc >= 6 ? queue_of(env, argv[0], argv[1]) : NULL;
  if (!q || !get_u32s(env, argv[2], &offsets, &n_off) || !get_u32s(env, argv[3], &lengths, &n_len) ||
      !get_int(env, argv[4], &max) || !get_int(env, argv[5], &timeout) || max < 0 || (size_t)max > n_off ||
      (size_t)max > n_len || (argc >= 7 && !get_int(env, argv[6], &loop_fd)))
    return throw_type(env,
                      "receive(handle, queue, offsets: Uint32Array, lengths: Uint32Array, maxPackets, timeoutMs[, loopFd])");
  recycle_lent(q);
  reap_completions(q);
  refill(q);
  uint32_t idx;
  uint32_t n = xsk_ring_cons__peek(&q->rx, (uint32_t)max, &idx);
  if (n == 0) {
    // Empty: one poll() both waits and, with need_wakeup set on the fill ring, wakes the driver.
    if (timeout > 0 || xsk_ring_prod__needs_wakeup(&q->fill)) {
      struct pollfd pfd[2] = {{.fd = q->fd, .events = POLLIN}, {.fd = loop_fd, .events = POLLIN}};
      q->polls++;
      int pr = poll(pfd, loop_fd >= 0 ? 2 : 1, timeout);
      if (pr < 0 && errno != EINTR) return throw_errno(env, errno, "poll", "on the AF_XDP socket");
      if (pr > 0 && (pfd[0].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the AF_XDP socket");
      if (pr > 0 && loop_fd >= 0 && (pfd[1].revents & POLLNVAL))
        return throw_errno(env, EBADF, "poll", "on the event loop fd");
      reap_completions(q);
      refill(q);
      n = xsk_ring_cons__peek(&q->rx, (uint32_t)max, &idx);
      if (n == 0 && pr > 0 && loop_fd >= 0 && (pfd[1].revents & POLLIN)) {
        napi_value loop_ready;
        napi_create_int32(env, -1, &loop_ready);
        return loop_ready;
      }
    }
  }
  for (uint32_t i = 0; i < n; i++) {
    const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
    uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
    uint32_t f = (uint32_t)(addr / q->frame_size);
    offsets[i] = (uint32_t)addr;
    lengths[i] = d->len;
    q->state[f] = FRAME_LENT;
    q->lent[q->lent_count++] = f;
  }
  if (n) xsk_ring_cons__release(&q->rx, n);
  napi_value result;
  napi_create_uint32(env, n, &result);
  return result;
}

// waitAny(queues: Int32Array [handle0, queue0, handle1, queue1, ...], timeoutMs[, loopFd]) -> bitmask of
// the queues whose RX ring has frames (bit i for pair i), after at most one poll() over all their sockets.
// For a worker that serves the IPv6 and the IPv4 interface: it sleeps on both at once. With loopFd (see
// receive) -1 when only the calling thread's event loop had I/O ready.
static napi_value xdp_wait_any(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  int32_t timeout, loop_fd = -1;
  if (argc < 2 || napi_get_typedarray_info(env, argv[0], &type, &length, &ptr, &ab, &offset) != napi_ok ||
      type != napi_int32_array || length % 2 || length == 0 || length > 2 * 16 || !get_int(env, argv[1], &timeout) ||
      (argc >= 3 && !get_int(env, argv[2], &loop_fd)))
    return throw_type(env, "waitAny(queues: Int32Array [handle, queue, ...] (1..16 pairs), timeoutMs[, loopFd])");
  int32_t *pairs = ptr;
  size_t n = length / 2;
  struct pollfd pfds[17];
  struct queue *qs[16];
  uint32_t ready = 0;
  for (size_t i = 0; i < n; i++) {
    struct port *p = (pairs[2 * i] >= 0 && pairs[2 * i] < MAX_PORTS) ? ports[pairs[2 * i]] : NULL;
    if (!p || pairs[2 * i + 1] < 0 || pairs[2 * i + 1] >= p->queue_count) return throw_type(env, "waitAny: no such open port/queue");
    qs[i] = &p->queues[pairs[2 * i + 1]];
    pfds[i] = (struct pollfd){.fd = qs[i]->fd, .events = POLLIN};
    if (xsk_cons_nb_avail(&qs[i]->rx, 1) > 0) ready |= 1u << i;
  }
  if (!ready) {
    pfds[n] = (struct pollfd){.fd = loop_fd, .events = POLLIN};
    int pr = poll(pfds, loop_fd >= 0 ? n + 1 : n, timeout);
    if (pr < 0 && errno != EINTR) return throw_errno(env, errno, "poll", "on the AF_XDP sockets");
    for (size_t i = 0; i < n; i++) {
      qs[i]->polls++;
      if (pr > 0 && (pfds[i].revents & POLLNVAL)) return throw_errno(env, EBADF, "poll", "on the AF_XDP socket");
      if (xsk_cons_nb_avail(&qs[i]->rx, 1) > 0) ready |= 1u << i;
    }
    if (!ready && pr > 0 && loop_fd >= 0 && (pfds[n].revents & POLLIN)) {
      napi_value loop_ready;
      napi_create_int32(env, -1, &loop_ready);
      return loop_ready;
    }
  }
  napi_value result;
  napi_create_uint32(env, ready, &result);
  return result;
}

// alloc(handle, queue, offsetsOut, count) -> how many frames were lent (each offset is a frame start;
// the whole frameSize bytes are the caller's until the next receive()).
static napi_value xdp_alloc(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t *offsets;
  size_t n_off;
  int32_t count;
  struct queue *q = argc >= 4 ? queue_of(env, argv[0], argv[1]) : NULL;
  if (!q || !get_u32s(env, argv[2], &offsets, &n_off) || !get_int(env, argv[3], &count) || count < 0 ||
      (size_t)count > n_off)
    return throw_type(env, "alloc(handle, queue, offsetsOut: Uint32Array, count)");
  if (q->free_count < (uint32_t)count) reap_completions(q);
  uint32_t n = 0;
  // The lent list holds at most frame_count entries until the next receive() empties it.
  while (n < (uint32_t)count && q->free_count > 0 && q->lent_count < q->frame_count) {
    uint32_t f = q->free_stack[--q->free_count];
    q->state[f] = FRAME_LENT;
    q->lent[q->lent_count++] = f;
    offsets[n++] = f * q->frame_size;
  }
  napi_value result;
  napi_create_uint32(env, n, &result);
  return result;
}

// Gives back TX slots reserved but not filled (libxdp has no producer-side cancel).
static inline void prod_cancel(struct xsk_ring_prod *prod, uint32_t nb) { prod->cached_prod -= nb; }

static void kick_tx(struct queue *q) {
  if (!xsk_ring_prod__needs_wakeup(&q->tx)) return;
  q->wakeups++;
  sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
}

// send(handle, queue, offsets, lengths, count) -> how many were queued. Each packet must lie in one
// frame the caller holds (from receive() or alloc()); others are refused and counted. One sendto()
// per batch wakes the kernel.
static napi_value xdp_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t *offsets, *lengths;
  size_t n_off, n_len;
  int32_t count;
  struct queue *q = argc >= 5 ? queue_of(env, argv[0], argv[1]) : NULL;
  if (!q || !get_u32s(env, argv[2], &offsets, &n_off) || !get_u32s(env, argv[3], &lengths, &n_len) ||
      !get_int(env, argv[4], &count) || count < 0 || (size_t)count > n_off || (size_t)count > n_len)
    return throw_type(env, "send(handle, queue, offsets: Uint32Array, lengths: Uint32Array, count)");
  uint32_t idx;
  uint32_t room = xsk_ring_prod__reserve(&q->tx, (uint32_t)count, &idx);
  if (room < (uint32_t)count) {
    // Ring full: take completions back and try once more for the whole batch.
    if (room) prod_cancel(&q->tx, room);
    kick_tx(q);
    reap_completions(q);
    room = xsk_ring_prod__reserve(&q->tx, (uint32_t)count, &idx);
    if (room == 0) room = xsk_ring_prod__reserve(&q->tx, xsk_prod_nb_free(&q->tx, (uint32_t)count), &idx);
  }
  uint32_t queued = 0, i = 0;
  for (; i < (uint32_t)count && queued < room; i++) {
    uint64_t off = offsets[i], len = lengths[i];
    uint32_t f = (uint32_t)(off / q->frame_size);
    if (f >= q->frame_count || len == 0 || off + len > (uint64_t)(f + 1) * q->frame_size || q->state[f] != FRAME_LENT) {
      q->tx_refused++;
      continue;
    }
    struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx + queued);
    d->addr = off;
    d->len = (uint32_t)len;
    d->options = 0;
    q->state[f] = FRAME_KERNEL;
    queued++;
  }
  q->tx_ring_full += (uint32_t)count - i; // left over for want of TX ring space
  if (queued < room) prod_cancel(&q->tx, room - queued);
  if (queued) {
    xsk_ring_prod__submit(&q->tx, queued);
    kick_tx(q);
  }
  napi_value result;
  napi_create_uint32(env, queued, &result);
  return result;
}

// write(handle, queue, buffer, offsets, lengths, count[, macs]) -> how many were queued: copies each
// packet into a free frame and sends it (for handlers that build output in their own buffer). With
// macs (12 bytes per packet: destination then source MAC) the packets are bare IP: each frame gets a
// 14-byte Ethernet header with the EtherType of the IP version nibble (other versions are refused).
static napi_value xdp_write(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *buf;
  size_t buf_len, n_off, n_len;
  uint32_t *offsets, *lengths;
  int32_t count;
  struct queue *q = argc >= 6 ? queue_of(env, argv[0], argv[1]) : NULL;
  if (!q || !get_bytes(env, argv[2], &buf, &buf_len) || !get_u32s(env, argv[3], &offsets, &n_off) ||
      !get_u32s(env, argv[4], &lengths, &n_len) || !get_int(env, argv[5], &count) || count < 0 ||
      (size_t)count > n_off || (size_t)count > n_len)
    return throw_type(env, "write(handle, queue, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count[, macs])");
  uint8_t *macs = NULL;
  size_t macs_len = 0;
  if (argc >= 7) {
    napi_valuetype t;
    napi_typeof(env, argv[6], &t);
    if (t != napi_undefined && (!get_bytes(env, argv[6], &macs, &macs_len) || macs_len < (size_t)count * 12))
      return throw_type(env, "write: macs must be a Uint8Array of 12 bytes per packet (destination, source)");
  }
  size_t link = macs ? 14 : 0;
  if (q->free_count < (uint32_t)count) reap_completions(q);
  uint32_t idx;
  uint32_t room = xsk_ring_prod__reserve(&q->tx, (uint32_t)count, &idx);
  if (room < (uint32_t)count) {
    if (room) prod_cancel(&q->tx, room);
    kick_tx(q);
    reap_completions(q);
    room = xsk_ring_prod__reserve(&q->tx, xsk_prod_nb_free(&q->tx, (uint32_t)count), &idx);
  }
  uint32_t queued = 0, i = 0;
  for (; i < (uint32_t)count && queued < room; i++) {
    size_t off = offsets[i], len = lengths[i];
    uint8_t version = len ? buf[off] >> 4 : 0;
    if (off > buf_len || len > buf_len - off || len == 0 || len + link > q->frame_size ||
        (macs && version != 4 && version != 6)) {
      q->tx_refused++;
      continue;
    }
    if (q->free_count == 0) {
      q->tx_no_frame++;
      continue;
    }
    uint32_t f = q->free_stack[--q->free_count];
    uint8_t *frame = q->area + (size_t)f * q->frame_size;
    if (macs) {
      memcpy(frame, macs + (size_t)i * 12, 12);
      frame[12] = version == 4 ? 0x08 : 0x86;
      frame[13] = version == 4 ? 0x00 : 0xdd;
    }
    memcpy(frame + link, buf + off, len);
    struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx + queued);
    d->addr = (uint64_t)f * q->frame_size;
    d->len = (uint32_t)(len + link);
    d->options = 0;
    q->state[f] = FRAME_KERNEL;
    queued++;
  }
  q->tx_ring_full += (uint32_t)count - i;
  if (queued < room) prod_cancel(&q->tx, room - queued);
  if (queued) {
    xsk_ring_prod__submit(&q->tx, queued);
    kick_tx(q);
  }
  napi_value result;
  napi_create_uint32(env, queued, &result);
  return result;
}

// stats(handle, queue, out: Float64Array(>= 12)) -> out filled with: rxDropped, rxInvalid, txInvalid,
// rxRingFull, fillRingEmpty, txRingEmpty, txRefused, txNoFrame, wakeups, polls, freeFrames, txRingFull.
static napi_value xdp_stats(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct queue *q = argc >= 3 ? queue_of(env, argv[0], argv[1]) : NULL;
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (!q || napi_get_typedarray_info(env, argv[2], &type, &length, &ptr, &ab, &offset) != napi_ok ||
      type != napi_float64_array || length < 12)
    return throw_type(env, "stats(handle, queue, out: Float64Array(12))");
  double *out = ptr;
  struct xdp_statistics s = {0};
  socklen_t sl = sizeof s;
  if (getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &s, &sl) < 0) return throw_errno(env, errno, "getsockopt", "XDP_STATISTICS");
  out[0] = (double)s.rx_dropped;
  out[1] = (double)s.rx_invalid_descs;
  out[2] = (double)s.tx_invalid_descs;
  out[3] = (double)s.rx_ring_full;
  out[4] = (double)s.rx_fill_ring_empty_descs;
  out[5] = (double)s.tx_ring_empty_descs;
  out[6] = (double)q->tx_refused;
  out[7] = (double)q->tx_no_frame;
  out[8] = (double)q->wakeups;
  out[9] = (double)q->polls;
  out[10] = (double)q->free_count;
  out[11] = (double)q->tx_ring_full;
  return NULL;
}

// programStats(handle) -> { redirected, passed, noSocket } summed over CPUs.
static napi_value xdp_program_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct port *p = argc >= 1 ? port_of(env, argv[0]) : NULL;
  if (!p) return throw_type(env, "programStats(handle): no such open port");
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return throw_errno(env, -cpus, "libbpf_num_possible_cpus", "");
  uint64_t *values = calloc((size_t)cpus, sizeof *values);
  if (!values) return throw_errno(env, ENOMEM, "calloc", "stats");
  const char *names[3] = {"redirected", "passed", "noSocket"};
  napi_value result, v;
  napi_create_object(env, &result);
  for (uint32_t slot = 0; slot < 3; slot++) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(p->stats_fd, &slot, values) == 0)
      for (int c = 0; c < cpus; c++) sum += values[c];
    napi_create_double(env, (double)sum, &v);
    napi_set_named_property(env, result, names[slot], v);
  }
  free(values);
  return result;
}

// close(handle): deletes the sockets, detaches the program (if still ours), frees the object.
static napi_value xdp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t h;
  if (argc < 1 || !get_int(env, argv[0], &h) || h < 0 || h >= MAX_PORTS) return throw_type(env, "close(handle)");
  pthread_mutex_lock(&ports_lock);
  struct port *p = ports[h];
  ports[h] = NULL;
  pthread_mutex_unlock(&ports_lock);
  if (!p) return NULL;
  char netns[256];
  memcpy(netns, p->netns, sizeof netns);
  int r = port_destroy_in_ns(p);
  free(p);
  if (r) return throw_errno(env, r, "setns", netns[0] ? netns : "back to the original namespace");
  return NULL;
}

// attachedProgram(ifname, netnsPath?) -> { id, name, mode } | null: what XDP program the interface has.
static napi_value xdp_attached(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IF_NAMESIZE] = {0}, netns[256] = {0};
  size_t l;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &l) != napi_ok)
    return throw_type(env, "attachedProgram(ifname[, netnsPath])");
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_string) napi_get_value_string_utf8(env, argv[1], netns, sizeof netns, &l);
  }
  int own;
  int r = enter_netns(netns, &own);
  if (r) return throw_errno(env, r, "setns", netns);
  int ifindex = if_nametoindex(ifname);
  int e = errno;
  char name[BPF_OBJ_NAME_LEN];
  uint32_t mode = 0, id = ifindex ? attached_program(ifindex, &mode, name) : 0;
  int back = leave_netns(own);
  if (back) return throw_errno(env, back, "setns", "back to the original namespace");
  if (!ifindex) return throw_errno(env, e, "if_nametoindex", ifname);
  napi_value result, v;
  if (!id) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_object(env, &result);
  napi_create_uint32(env, id, &v);
  napi_set_named_property(env, result, "id", v);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "name", v);
  napi_create_string_utf8(env, mode == XDP_FLAGS_DRV_MODE ? "native" : mode == XDP_FLAGS_SKB_MODE ? "generic" : "offload",
                          NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "mode", v);
  return result;
}

// netlinkOpen(netnsPath?) -> fd: a non-blocking rtnetlink socket, in that namespace, subscribed to
// neighbour, route and link changes (the neighbour table applies them without re-reading everything).
static napi_value xdp_netlink_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char netns[256] = {0};
  if (argc >= 1) {
    napi_valuetype t;
    size_t l;
    napi_typeof(env, argv[0], &t);
    if (t == napi_string && napi_get_value_string_utf8(env, argv[0], netns, sizeof netns, &l) != napi_ok)
      return throw_type(env, "netlinkOpen([netnsPath])");
  }
  int own;
  int r = enter_netns(netns, &own);
  if (r) return throw_errno(env, r, "setns", netns);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0) {
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_LINK};
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      e = errno;
      close(fd);
      fd = -1;
    }
  }
  int back = leave_netns(own);
  if (back) {
    if (fd >= 0) close(fd);
    return throw_errno(env, back, "setns", "back to the original namespace");
  }
  if (fd < 0) return throw_errno(env, e, "netlink", "rtnetlink socket");
  napi_value v;
  napi_create_int32(env, fd, &v);
  return v;
}

// netlinkRead(fd, buffer) -> bytes of netlink messages read into buffer (0: none pending; -1: the
// kernel dropped notifications (ENOBUFS), so the caller must re-read its tables).
static napi_value xdp_netlink_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint8_t *buf;
  size_t len;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &len))
    return throw_type(env, "netlinkRead(fd, buffer: Uint8Array)");
  ssize_t n;
  do {
    n = recv(fd, buf, len, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  int32_t result = (int32_t)n;
  if (n < 0) {
    if (errno == EAGAIN) result = 0;
    else if (errno == ENOBUFS) result = -1;
    else return throw_errno(env, errno, "recv", "rtnetlink socket");
  }
  napi_value v;
  napi_create_int32(env, result, &v);
  return v;
}

// netlinkSend(fd, buffer, length) -> bytes sent: one request (built by the caller) to the kernel.
static napi_value xdp_netlink_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, length;
  uint8_t *buf;
  size_t len;
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &len) || !get_int(env, argv[2], &length) ||
      length <= 0 || (size_t)length > len)
    return throw_type(env, "netlinkSend(fd, buffer: Uint8Array, length)");
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do {
    n = sendto(fd, buf, (size_t)length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto", "rtnetlink socket");
  napi_value v;
  napi_create_int32(env, (int32_t)n, &v);
  return v;
}

static napi_value xdp_netlink_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "netlinkClose(fd)");
  close(fd);
  return NULL;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  if (getenv("XLAT64_XDP_DEBUG")) return vfprintf(stderr, fmt, args);
  return 0;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  libbpf_set_print(silent_print);
  napi_property_descriptor props[] = {
      {"open", NULL, xdp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"detachStale", NULL, xdp_detach_stale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attachedProgram", NULL, xdp_attached, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umem", NULL, xdp_umem, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, xdp_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitAny", NULL, xdp_wait_any, NULL, NULL, NULL, napi_enumerable, NULL},
      {"alloc", NULL, xdp_alloc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, xdp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, xdp_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, xdp_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"programStats", NULL, xdp_program_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, xdp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkOpen", NULL, xdp_netlink_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkRead", NULL, xdp_netlink_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkSend", NULL, xdp_netlink_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkClose", NULL, xdp_netlink_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
