// JS exceptions for the addon. A failed call becomes an Error whose message
// names the call and the object ("bpf_map_update_elem(map 'x' fd 12): File
// exists") and which carries errno, code ('EEXIST') and syscall properties.
#pragma once

#include <napi.h>
#include <string>

namespace vw {

// Throws the Error described above. `detail`, when given, is appended to the
// message (e.g. how many batch entries were written before the failure).
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& syscall,
                             const std::string& object, int err,
                             const std::string& detail = "");

// The same Error, returned instead of thrown (e.g. to reject a promise).
Napi::Error ErrnoError(Napi::Env env, const std::string& syscall,
                       const std::string& object, int err,
                       const std::string& detail = "");

// Throws a TypeError: for arguments that are wrong before any call is made.
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

// 'EBADF' for 9; kernel-internal codes such as ENOTSUPP (524) included.
std::string ErrnoName(int err);

// libbpf (1.x) returns -errno from int functions; plain syscalls return -1 and
// set errno. These turn either into a positive errno, 0 on success.
inline int LibbpfErrno(long ret) { return ret < 0 ? static_cast<int>(-ret) : 0; }
int SyscallErrno(long ret);

}  // namespace vw
