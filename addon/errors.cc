#include "errors.h"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>

namespace vw {

namespace {

// Codes the kernel returns from bpf() that glibc has no name for.
constexpr int kENOTSUPP = 524;

std::string ErrnoText(int err) {
  if (err == kENOTSUPP) return "Operation not supported by this map or program type";
  // libbpf's own codes (LIBBPF_ERRNO__*, 4000+) and the usual strerror text.
  char buf[256];
  if (libbpf_strerror(err, buf, sizeof(buf)) == 0) return buf;
  return std::strerror(err);
}

}  // namespace

std::string ErrnoName(int err) {
  if (err == kENOTSUPP) return "ENOTSUPP";
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
  return "E" + std::to_string(err);
}

int SyscallErrno(long ret) { return ret < 0 ? errno : 0; }

void ThrowErrno(Napi::Env env, const std::string& syscall, const std::string& object,
                int err, const std::string& detail) {
  throw ErrnoError(env, syscall, object, err, detail);
}

Napi::Error ErrnoError(Napi::Env env, const std::string& syscall, const std::string& object,
                       int err, const std::string& detail) {
  std::string message = syscall + "(" + object + "): " + ErrnoText(err);
  if (!detail.empty()) message += " (" + detail + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

}  // namespace vw
