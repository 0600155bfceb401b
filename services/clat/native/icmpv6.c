// icmpv6.c - the N-API addon behind the CLAT's ICMPv6 sockets (router advertisements, router
// solicitations, PLAT probe echoes): a raw ICMPv6 socket with the kernel's ICMP6_FILTER (RFC 3542
// sec. 3.2), read with recvmsg(2) so each message comes with its IPv6 hop limit and arrival interface
// (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO, RFC 3542 sec. 6) — what RFC 4861 sec. 6.1.2's RA checks
// need — and polled on Node's own event loop (uv_poll). Sends go out with a chosen hop limit.
//
// Errors are thrown as JS errors whose `code` is the errno name, with a message naming the fix.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MESSAGE_MAX 65536
#define READS_PER_WAKEUP 64

typedef struct {
  int fd;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_message;
  napi_ref on_error;
  napi_async_context async;
  int closed;
} icmp_socket;

static unsigned char rx_buffer[MESSAGE_MAX];

static const char *errno_name(int err) {
  switch (err) {
  case EPERM: return "EPERM";
  case EACCES: return "EACCES";
  case EINVAL: return "EINVAL";
  case ENODEV: return "ENODEV";
  case ENXIO: return "ENXIO";
  case ENETDOWN: return "ENETDOWN";
  case ENETUNREACH: return "ENETUNREACH";
  case EHOSTUNREACH: return "EHOSTUNREACH";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case EMSGSIZE: return "EMSGSIZE";
  case ENOBUFS: return "ENOBUFS";
  case ENOMEM: return "ENOMEM";
  case EMFILE: return "EMFILE";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, errno_name(err), message);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "XLAT64_ERR_ICMPV6_ARGUMENT", message);
  return NULL;
}

static void call_js(icmp_socket *s, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv);
  if (napi_make_callback(env, s->async, recv, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
}

static void report_error(icmp_socket *s, int err, const char *what) {
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value argv[2];
  napi_create_string_utf8(s->env, errno_name(err), NAPI_AUTO_LENGTH, &argv[0]);
  napi_create_string_utf8(s->env, message, NAPI_AUTO_LENGTH, &argv[1]);
  call_js(s, s->on_error, 2, argv);
  napi_close_handle_scope(s->env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  icmp_socket *s = handle->data;
  if (s->closed) return;
  if (status < 0) {
    uv_poll_stop(&s->poll);
    report_error(s, -status, "poll on the ICMPv6 socket");
    return;
  }
  for (int i = 0; i < READS_PER_WAKEUP && !s->closed; i++) {
    struct sockaddr_in6 from;
    union {
      struct cmsghdr align;
      unsigned char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
    } control;
    struct iovec iov = {.iov_base = rx_buffer, .iov_len = sizeof rx_buffer};
    struct msghdr msg = {
        .msg_name = &from,
        .msg_namelen = sizeof from,
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.bytes,
        .msg_controllen = sizeof control.bytes,
    };
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      uv_poll_stop(&s->poll);
      report_error(s, errno, "recvmsg on the ICMPv6 socket");
      return;
    }
    int hop_limit = -1;
    unsigned ifindex = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&hop_limit, CMSG_DATA(c), sizeof(int));
      } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        ifindex = info.ipi6_ifindex;
      }
    }
    char source[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &from.sin6_addr, source, sizeof source) == NULL) source[0] = 0;
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    napi_value argv[4];
    void *data;
    napi_create_buffer_copy(s->env, (size_t)n, rx_buffer, &data, &argv[0]);
    napi_create_string_utf8(s->env, source, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(s->env, hop_limit, &argv[2]);
    napi_create_uint32(s->env, ifindex, &argv[3]);
    call_js(s, s->on_message, 4, argv);
    napi_close_handle_scope(s->env, scope);
  }
}

static void on_closed(uv_handle_t *handle) {
  icmp_socket *s = handle->data;
  napi_async_destroy(s->env, s->async);
  free(s);
}

static void release(icmp_socket *s) {
  if (s->closed) return;
  s->closed = 1;
  uv_poll_stop(&s->poll);
  close(s->fd);
  napi_delete_reference(s->env, s->on_message);
  napi_delete_reference(s->env, s->on_error);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

static icmp_socket *unwrap(napi_env env, napi_value value) {
  icmp_socket *s = NULL;
  if (napi_get_value_external(env, value, (void **)&s) != napi_ok || s == NULL) {
    throw_type(env, "not an ICMPv6 socket handle");
    return NULL;
  }
  if (s->closed) {
    napi_throw_error(env, "EBADF", "the ICMPv6 socket is closed");
    return NULL;
  }
  return s;
}

// open(passType, device, onMessage(buffer, source, hopLimit, ifindex), onError(code, message)) -> handle
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_type(env, "open(passType, device, onMessage, onError)");
  uint32_t pass_type;
  if (napi_get_value_uint32(env, argv[0], &pass_type) != napi_ok || pass_type > 255)
    return throw_type(env, "passType must be an ICMPv6 type 0..255");
  char device[IF_NAMESIZE] = {0};
  size_t device_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], device, sizeof device, &device_len) != napi_ok)
    return throw_type(env, "device must be a string ('' for every interface)");

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) (needs root or CAP_NET_RAW)");
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(pass_type, &filter);
  int on = 1, hops = 255;
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt on the ICMPv6 socket");
  }
  if (device_len > 0 && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)device_len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "SO_BINDTODEVICE (does the interface exist?)");
  }

  icmp_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "allocating the socket");
  }
  s->fd = fd;
  s->env = env;
  s->poll.data = s;
  napi_value resource_name;
  napi_create_string_utf8(env, "xlat64.icmpv6", NAPI_AUTO_LENGTH, &resource_name);
  napi_value resource;
  napi_create_object(env, &resource);
  napi_async_init(env, resource, resource_name, &s->async);
  napi_create_reference(env, argv[2], 1, &s->on_message);
  napi_create_reference(env, argv[3], 1, &s->on_error);
  struct uv_loop_s *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &s->poll, fd);
  if (rc == 0) rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    close(fd);
    napi_delete_reference(env, s->on_message);
    napi_delete_reference(env, s->on_error);
    napi_async_destroy(env, s->async);
    free(s);
    return throw_errno(env, -rc, "uv_poll on the ICMPv6 socket");
  }
  napi_value handle;
  napi_create_external(env, s, NULL, NULL, &handle);
  return handle;
}

// send(handle, buffer, destination, ifindex, hopLimit) -> bytes sent (throws with the errno's name)
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_type(env, "send(handle, buffer, destination, ifindex, hopLimit)");
  icmp_socket *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return throw_type(env, "buffer must be a Buffer");
  char text[INET6_ADDRSTRLEN];
  struct sockaddr_in6 to = {.sin6_family = AF_INET6};
  if (napi_get_value_string_utf8(env, argv[2], text, sizeof text, NULL) != napi_ok ||
      inet_pton(AF_INET6, text, &to.sin6_addr) != 1)
    return throw_type(env, "destination must be an IPv6 address");
  uint32_t ifindex, hop_limit;
  if (napi_get_value_uint32(env, argv[3], &ifindex) != napi_ok) return throw_type(env, "ifindex must be a number");
  if (napi_get_value_uint32(env, argv[4], &hop_limit) != napi_ok || hop_limit < 1 || hop_limit > 255)
    return throw_type(env, "hopLimit must be 1..255");
  to.sin6_scope_id = ifindex;
  union {
    struct cmsghdr align;
    unsigned char bytes[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr msg = {
      .msg_name = &to,
      .msg_namelen = sizeof to,
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.bytes,
      .msg_controllen = sizeof control.bytes,
  };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_HOPLIMIT;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int hops = (int)hop_limit;
  memcpy(CMSG_DATA(c), &hops, sizeof hops);
  ssize_t n = sendmsg(s->fd, &msg, MSG_DONTWAIT);
  if (n < 0) return throw_errno(env, errno, "sendmsg on the ICMPv6 socket");
  napi_value result;
  napi_create_uint32(env, (uint32_t)n, &result);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  icmp_socket *s = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&s) != napi_ok || s == NULL)
    return throw_type(env, "close(handle)");
  release(s);
  return NULL;
}

// ifindex(name) -> the interface's index, 0 when there is none by that name.
static napi_value js_ifindex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[IF_NAMESIZE + 1] = {0};
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, NULL) != napi_ok)
    return throw_type(env, "ifindex(name)");
  napi_value result;
  napi_create_uint32(env, if_nametoindex(name), &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ifindex", NULL, js_ifindex, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
