#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <cstdarg>
#include <cstdio>

// The `stderr` of libbpf's default log function, renamed by binding.gyp (see
// there why). Hidden, so that libbpf's PC-relative reference to it resolves
// inside the addon; it points at glibc's stderr like the original.
extern "C" {
__attribute__((visibility("hidden"))) FILE* vrfwall_libbpf_stderr = stderr;
}

namespace vw {

namespace {

constexpr size_t kTail = 8192;  // bytes of log kept for an error message

// Per thread: a load on a worker thread (loadObjectAsync) collects its own
// messages while the JS thread may collect another call's.
thread_local bool g_capture = false;
thread_local std::string g_log;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  if (!g_capture) return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  g_log += buf;
  if (g_log.size() > 4 * kTail) g_log.erase(0, g_log.size() - kTail);
  return n;
}

}  // namespace

void InstallLibbpfLogger() { libbpf_set_print(Print); }

LibbpfLog::LibbpfLog() {
  g_log.clear();
  g_capture = true;
}

LibbpfLog::~LibbpfLog() { g_capture = false; }

std::string LibbpfLog::Tail() const {
  std::string tail = g_log.size() > kTail ? g_log.substr(g_log.size() - kTail) : g_log;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

}  // namespace vw
