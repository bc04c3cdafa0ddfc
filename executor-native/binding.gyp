{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": [
        "src/addon.cc",
        "src/binding/spawn.cc",
        "src/binding/send_go.cc",
        "src/binding/read_sync_message.cc",
        "src/binding/close_fd.cc",
        "src/binding/pidfd_open.cc",
        "src/binding/wait_pid.cc",
        "src/binding/set_child_subreaper.cc",
        "src/binding/kill.cc",
        "src/binding/pipe.cc",
        "src/binding/errno_error.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-Werror"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
