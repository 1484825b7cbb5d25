{
  "targets": [
    {
      "target_name": "dpdk_port",
      "sources": ["dpdk_port.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wunused-parameter", "-Werror", "<!@(pkg-config --cflags libdpdk)"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti"],
      "libraries": ["<!@(pkg-config --libs libdpdk)"]
    }
  ]
}
