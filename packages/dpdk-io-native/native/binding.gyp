{
  "targets": [
    {
      "target_name": "dpdk_io_native",
      "sources": ["addon.cc", "napi_util.cc", "fd_table.cc", "checksum.cc", "tap.cc", "af_packet.cc", "packet_ring.cc", "burst.cc", "watch.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wunused-parameter", "-Werror"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
