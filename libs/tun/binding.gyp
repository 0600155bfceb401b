# node-gyp build of the libs/tun N-API addon (C, Node-API 8, Linux only). Driven by
# libs/tun/scripts/build-addon.mjs during `npm install`, which points node-gyp at the local Node
# headers (--nodedir) so nothing is downloaded, and which compiles the queue steering program
# (native/xlat64_steer.bpf.c) with clang; a second addon (native/steer.c, linked against Debian's libbpf,
# loaded only by a multi-queue PLAT) loads it, so the TUN addon itself needs no libbpf.
{
  "targets": [
    {
      "target_name": "xlat64_tun",
      "sources": ["native/tun.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    },
    {
      "target_name": "xlat64_tun_steer",
      "sources": ["native/steer.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "libraries": ["-lbpf"]
    }
  ]
}
