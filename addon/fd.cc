#include "fd.h"

#include <cerrno>
#include <climits>
#include <fcntl.h>

#include "errors.h"

namespace vw {

namespace {

// Whether readlink(/proc/self/fd/N) names a BPF object of `kind`. The
// kernel's anonymous inodes are "bpf-map", "bpf-prog" and "bpf-link", except
// that a freshly created link is "bpf_link" (BPF_LINK_CREATE vs BPF_OBJ_GET).
bool IsKind(const std::string& target, BpfKind kind) {
  switch (kind) {
    case BpfKind::kMap: return target == "anon_inode:bpf-map";
    case BpfKind::kProg: return target == "anon_inode:bpf-prog";
    case BpfKind::kLink: return target == "anon_inode:bpf-link" || target == "anon_inode:bpf_link";
  }
  return false;
}

const char* KindName(BpfKind kind) {
  switch (kind) {
    case BpfKind::kMap: return "map";
    case BpfKind::kProg: return "program";
    case BpfKind::kLink: return "link";
  }
  return "";
}

}  // namespace

void RequireBpfFd(Napi::Env env, int fd, BpfKind kind, const std::string& syscall,
                  const std::string& object) {
  if (fcntl(fd, F_GETFD) < 0) ThrowErrno(env, syscall, object, errno);
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  char target[PATH_MAX];
  ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
  if (n < 0) ThrowErrno(env, syscall, object, errno);
  target[n] = '\0';
  if (!IsKind(target, kind))
    ThrowErrno(env, syscall, object, EINVAL,
               std::string("fd is ") + target + ", not a BPF " + KindName(kind));
}

}  // namespace vw
