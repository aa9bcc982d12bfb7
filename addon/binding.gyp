# vrfwall_native: N-API addon over libbpf. libbpf is linked statically (the
# distro's libbpf.a), libelf and zlib dynamically.
{
  "variables": {
    # pkg-config knows where the distro put libbpf; gcc finds it otherwise.
    "libbpf_a": "<!(sh -c 'p=$(pkg-config --variable=libdir libbpf 2>/dev/null)/libbpf.a; [ -f \"$p\" ] || p=$(gcc -print-file-name=libbpf.a); echo \"$p\"')"
  },
  "targets": [
    {
      "target_name": "vrfwall_native",
      "sources": [
        "addon.cc",
        "errors.cc",
        "args.cc",
        "fd.cc",
        "libbpf_log.cc",
        "object.cc",
        "maps.cc",
        "links.cc",
        "hooks.cc",
        "testrun.cc",
        "ringbuf.cc",
        "netns.cc",
        "memory.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      # Debian builds libbpf.a as PIE, not PIC: libbpf.o reaches glibc's
      # `stderr` with a PC-relative relocation that a shared object cannot
      # carry. A copy of the archive has that one reference renamed to a
      # variable of ours (libbpf_log.cc); nothing else differs.
      "actions": [
        {
          "action_name": "libbpf_for_shared_object",
          "inputs": ["<(libbpf_a)"],
          "outputs": ["<(PRODUCT_DIR)/libbpf_vrfwall.a"],
          "action": ["objcopy", "--redefine-sym", "stderr=vrfwall_libbpf_stderr",
                     "<(libbpf_a)", "<(PRODUCT_DIR)/libbpf_vrfwall.a"]
        }
      ],
      # Keep libbpf's symbols private to the addon.
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "libraries": [
        "<(PRODUCT_DIR)/libbpf_vrfwall.a",
        "-lelf",
        "-lz"
      ]
    }
  ]
}
