// File descriptors: an owning wrapper, and checks that an fd passed from JS
// is the kind of BPF object the call expects (bpf_obj_get_info_by_fd would
// otherwise happily fill a map-info struct with a program's info).
#pragma once

#include <napi.h>
#include <string>
#include <unistd.h>

namespace vw {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

enum class BpfKind { kMap, kProg, kLink };

// Throws EBADF when fd is not open, EINVAL when it is not a BPF object of
// `kind`; `syscall` and `object` name the failing call as in ThrowErrno.
void RequireBpfFd(Napi::Env env, int fd, BpfKind kind, const std::string& syscall,
                  const std::string& object);

}  // namespace vw
