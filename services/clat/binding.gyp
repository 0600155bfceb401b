# node-gyp build of the CLAT's ICMPv6 socket addon (C, Node-API 8, Linux only). Driven by
# libs/tun/scripts/build-addon.mjs during `npm install` (it points node-gyp at the local Node headers).
{
  "targets": [
    {
      "target_name": "xlat64_icmpv6",
      "sources": ["native/icmpv6.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    }
  ]
}
