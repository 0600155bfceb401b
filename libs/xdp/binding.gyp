# node-gyp build of the libs/xdp N-API addon (C, Node-API 8, Linux only), linked against Debian's
# libxdp (AF_XDP sockets) and libbpf (program loading). Driven by libs/xdp/scripts/build-addon.mjs during
# `npm install`, which also compiles the XDP program (native/xlat64_xdp.bpf.c) with clang.
{
  "targets": [
    {
      "target_name": "xlat64_xdp",
      "sources": ["native/xdp.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "libraries": ["-lxdp", "-lbpf"]
    }
  ]
}
