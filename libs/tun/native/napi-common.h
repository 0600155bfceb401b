// napi-common.h - what both addons of libs/tun (tun.c, steer.c) need around N-API: the N-API call
// check, errno names, the typed errors they throw (code = errno name, `syscall` and `errno` set, a
// message with the fix) and argument readers.
#pragma once
#include <errno.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK_NAPI(env, call)                                                                      \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error((env), "XLAT64_ERR_TUN_NAPI", "N-API call failed: " #call);                \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static inline const char *errno_name(int err) {
  switch (err) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case EINVAL: return "EINVAL";
  case ENFILE: return "ENFILE";
  case EMFILE: return "EMFILE";
  case ENOTTY: return "ENOTTY";
  case ENOSPC: return "ENOSPC";
  case EMSGSIZE: return "EMSGSIZE";
  case ENOBUFS: return "ENOBUFS";
  case EBADFD: return "EBADFD";
  case ENXIO: return "ENXIO";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case E2BIG: return "E2BIG";
  default: return "EUNKNOWN";
  }
}

// Throws an Error with code = errno name, syscall and errno properties, its message "SYSCALL WHAT:
// ENAME (strerror)HINT" (WHAT cut at 400 bytes). Always returns NULL.
static inline napi_value throw_errno_hinted(napi_env env, int err, const char *syscall, const char *what,
                                            const char *hint) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s %.400s: %s (%s)%s", syscall, what, errno_name(err), strerror(err), hint);
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

static inline napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "XLAT64_ERR_TUN_ARGUMENT", msg);
  return NULL;
}

static inline int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

// Uint8Array/Buffer -> pointer + length.
static inline int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
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

static inline int get_u32s(napi_env env, napi_value v, uint32_t **data, size_t *len) {
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
