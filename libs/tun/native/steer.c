// steer.c - the queue steering addon of libs/tun (a target of its own, so the TUN addon the CLAT ships
// needs no libbpf): loads native/xlat64_steer.bpf.c with Debian's libbpf and attaches it to a multi-queue
// TUN device (TUNSETSTEERINGEBPF, Linux 4.16), so the kernel queues each packet for the worker that
// owns its shard. The program's maps (shard -> queue, leased block -> shard, the hash configuration) are
// written through a process-wide handle by the role's main thread and by every worker thread.
//
// Errors are thrown as JS errors whose `code` is the errno name, with `syscall` and `errno` set.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "napi-common.h"

// 32-bit words of struct steer_config (native/xlat64_steer.bpf.c): the config map's value size.
#define STEER_CONFIG_WORDS 17

#ifndef TUNSETSTEERINGEBPF
#define TUNSETSTEERINGEBPF _IOR('T', 224, int)
#endif

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  return throw_errno_hinted(env, err, syscall, what,
                            err == EPERM || err == EACCES
                                ? " — run as root (CAP_NET_ADMIN, CAP_BPF) and raise RLIMIT_MEMLOCK"
                                : "");
}

// One entry per loaded program (a PLAT loads one); written under the lock, read by any thread after.
#define STEERINGS_MAX 16
struct steering {
  struct bpf_object *obj;
  int prog_fd, config_fd, shard_fd, block_fd;
};
static struct steering steerings[STEERINGS_MAX];
static pthread_mutex_t steerings_lock = PTHREAD_MUTEX_INITIALIZER;

static struct steering *steering_at(napi_env env, napi_value v) {
  int32_t h;
  if (!get_int(env, v, &h) || h < 0 || h >= STEERINGS_MAX || steerings[h].obj == NULL) {
    throw_type(env, "not an open steering handle");
    return NULL;
  }
  return &steerings[h];
}

// steerLoad(objectPath, shardCount, blocksMax) -> handle
static napi_value steer_load(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t path_len;
  int32_t shards, blocks;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len) != napi_ok ||
      !get_int(env, argv[1], &shards) || !get_int(env, argv[2], &blocks) || shards < 1 || blocks < 1)
    return throw_type(env, "steerLoad(objectPath, shardCount, blocksMax)");
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  int err = obj ? 0 : errno;
  if (!obj) return throw_errno(env, err ? err : ENOENT, "bpf_object__open_file", path);
  struct bpf_map *shard_map = bpf_object__find_map_by_name(obj, "shard_queue");
  struct bpf_map *block_map = bpf_object__find_map_by_name(obj, "block_shard");
  struct bpf_map *config_map = bpf_object__find_map_by_name(obj, "config");
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, "xlat64_steer");
  if (!shard_map || !block_map || !config_map || !prog) {
    bpf_object__close(obj);
    return throw_errno(env, ENOENT, "bpf_object__find_map_by_name", "the steering program's maps");
  }
  bpf_map__set_max_entries(shard_map, (uint32_t)shards);
  bpf_map__set_max_entries(block_map, (uint32_t)blocks);
  if (bpf_object__load(obj) != 0) {
    err = errno;
    bpf_object__close(obj);
    return throw_errno(env, err ? err : EINVAL, "bpf_object__load", "the TUN steering program");
  }
  pthread_mutex_lock(&steerings_lock);
  int h = -1;
  for (int i = 0; i < STEERINGS_MAX; i++) {
    if (steerings[i].obj == NULL) {
      h = i;
      steerings[i].obj = obj;
      steerings[i].prog_fd = bpf_program__fd(prog);
      steerings[i].config_fd = bpf_map__fd(config_map);
      steerings[i].shard_fd = bpf_map__fd(shard_map);
      steerings[i].block_fd = bpf_map__fd(block_map);
      break;
    }
  }
  pthread_mutex_unlock(&steerings_lock);
  if (h < 0) {
    bpf_object__close(obj);
    return throw_errno(env, EMFILE, "steerLoad", "steering programs (16 at most)");
  }
  // Every shard unknown until the router says otherwise.
  uint32_t unknown = 0xffffffffu;
  for (uint32_t k = 0; k < (uint32_t)shards; k++) bpf_map_update_elem(steerings[h].shard_fd, &k, &unknown, BPF_ANY);
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, h, &result));
  return result;
}

// steerAttach(handle, tunFd): the device queues each packet where the program says.
static napi_value steer_attach(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 2 ? steering_at(env, argv[0]) : NULL;
  int32_t fd;
  if (!s) return NULL;
  if (!get_int(env, argv[1], &fd)) return throw_type(env, "steerAttach(handle, fd)");
  int prog = s->prog_fd;
  if (ioctl(fd, TUNSETSTEERINGEBPF, &prog) < 0) return throw_errno(env, errno, "ioctl(TUNSETSTEERINGEBPF)", "the TUN queue");
  return NULL;
}

// steerDetach(tunFd): back to the kernel's own queue choice.
static napi_value steer_detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) return throw_type(env, "steerDetach(fd)");
  int none = -1;
  if (ioctl(fd, TUNSETSTEERINGEBPF, &none) < 0) return throw_errno(env, errno, "ioctl(TUNSETSTEERINGEBPF)", "the TUN queue");
  return NULL;
}

// steerConfigure(handle, words: Uint32Array) -> the config map's one entry.
static napi_value steer_configure(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 2 ? steering_at(env, argv[0]) : NULL;
  uint32_t *words;
  size_t n;
  if (!s) return NULL;
  if (!get_u32s(env, argv[1], &words, &n) || n != STEER_CONFIG_WORDS)
    return throw_type(env, "steerConfigure(handle, Uint32Array(17))");
  uint32_t zero = 0;
  if (bpf_map_update_elem(s->config_fd, &zero, words, BPF_ANY) < 0) return throw_errno(env, errno, "bpf_map_update_elem", "the steering config");
  return NULL;
}

// steerSetShard(handle, shard, queue): queue -1 = unknown (routed in JavaScript).
static napi_value steer_set_shard(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 3 ? steering_at(env, argv[0]) : NULL;
  int32_t shard, queue;
  if (!s) return NULL;
  if (!get_int(env, argv[1], &shard) || !get_int(env, argv[2], &queue) || shard < 0)
    return throw_type(env, "steerSetShard(handle, shard, queue)");
  uint32_t k = (uint32_t)shard, v = queue < 0 ? 0xffffffffu : (uint32_t)queue;
  if (bpf_map_update_elem(s->shard_fd, &k, &v, BPF_ANY) < 0) return throw_errno(env, errno, "bpf_map_update_elem", "a shard's queue");
  return NULL;
}

// steerSetBlock(handle, address, slotBlock, shard): shard -1 removes the block. Returns false when the
// map is full (the block is then routed in JavaScript).
static napi_value steer_set_block(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 4 ? steering_at(env, argv[0]) : NULL;
  uint32_t key[2];
  int32_t shard;
  if (!s) return NULL;
  if (napi_get_value_uint32(env, argv[1], &key[0]) != napi_ok || napi_get_value_uint32(env, argv[2], &key[1]) != napi_ok ||
      !get_int(env, argv[3], &shard))
    return throw_type(env, "steerSetBlock(handle, address, slotBlock, shard)");
  int ok = 1;
  if (shard < 0) {
    if (bpf_map_delete_elem(s->block_fd, key) < 0 && errno != ENOENT)
      return throw_errno(env, errno, "bpf_map_delete_elem", "a block's shard");
  } else {
    uint32_t v = (uint32_t)shard;
    if (bpf_map_update_elem(s->block_fd, key, &v, BPF_ANY) < 0) {
      if (errno != E2BIG && errno != ENOMEM) return throw_errno(env, errno, "bpf_map_update_elem", "a block's shard");
      ok = 0;
    }
  }
  napi_value result;
  CHECK_NAPI(env, napi_get_boolean(env, ok, &result));
  return result;
}

// steerTestRun(handle, ipPacket) -> the program's answer for that packet (BPF_PROG_TEST_RUN).
static napi_value steer_test_run(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 2 ? steering_at(env, argv[0]) : NULL;
  uint8_t *packet;
  size_t n;
  if (!s) return NULL;
  if (!get_bytes(env, argv[1], &packet, &n) || n < 1 || n > 4096) return throw_type(env, "steerTestRun(handle, packet)");
  // The test run takes a frame: an Ethernet header it pulls off, so the program sees the IP packet.
  uint8_t frame[14 + 4096];
  memset(frame, 0, 14);
  frame[12] = (packet[0] >> 4) == 6 ? 0x86 : 0x08;
  frame[13] = (packet[0] >> 4) == 6 ? 0xdd : 0x00;
  memcpy(frame + 14, packet, n);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)(14 + n), .repeat = 1);
  if (bpf_prog_test_run_opts(s->prog_fd, &opts) < 0) return throw_errno(env, errno, "bpf_prog_test_run_opts", "the steering program");
  napi_value result;
  CHECK_NAPI(env, napi_create_uint32(env, opts.retval, &result));
  return result;
}

// steerClose(handle): the program and its maps (a device it is attached to keeps it until detached).
static napi_value steer_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct steering *s = argc == 1 ? steering_at(env, argv[0]) : NULL;
  if (!s) return NULL;
  pthread_mutex_lock(&steerings_lock);
  bpf_object__close(s->obj);
  memset(s, 0, sizeof *s);
  pthread_mutex_unlock(&steerings_lock);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"steerLoad", NULL, steer_load, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerAttach", NULL, steer_attach, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerDetach", NULL, steer_detach, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerConfigure", NULL, steer_configure, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerSetShard", NULL, steer_set_shard, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerSetBlock", NULL, steer_set_block, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerTestRun", NULL, steer_test_run, NULL, NULL, NULL, napi_enumerable, NULL},
      {"steerClose", NULL, steer_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
