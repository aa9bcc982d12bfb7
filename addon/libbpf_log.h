// libbpf's log. While a LibbpfLog is alive its messages are collected so that
// a failing call can append them to its JS error (verifier log, pinned-map
// mismatch, the kernel's netlink extack text); otherwise warnings go to
// stderr. Debug messages are dropped. Collected per thread (a load may run
// on a worker thread).
#pragma once

#include <string>

namespace vw {

void InstallLibbpfLogger();

class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // The last messages, trailing newlines removed ("" when there were none).
  std::string Tail() const;
};

}  // namespace vw
