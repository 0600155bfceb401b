# node-gyp build of the libs/tun N-API addon (C, Node-API 8, Linux only). Driven by
# libs/tun/scripts/build-addon.mjs during `npm install`, which points node-gyp at the local Node
# headers (--nodedir) so nothing is downloaded.
{
  "targets": [
    {
      "target_name": "xlat64_tun",
      "sources": ["native/tun.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    }
  ]
}
