// Network namespaces of the calling thread, and interface names.
//
// setns(CLONE_NEWNET) only moves the calling thread: here the JS main thread.
// libuv's thread pool (dns.lookup, async fs) stays where it was; child
// processes spawned from the main thread start in the entered namespace.
#include <cerrno>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "native.h"

namespace vw {

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Args args(info, "ifNameToIndex");
  std::string name = args.Str(0, "name");
  if (name.size() >= IF_NAMESIZE) args.Fail("name", "must be shorter than 16 bytes");
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) ThrowErrno(info.Env(), "if_nametoindex", "'" + name + "'", errno);
  return Napi::Number::New(info.Env(), index);
}

// The name of an interface, or null when no interface has that index.
Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  Args args(info, "ifIndexToName");
  unsigned index = args.U32(0, "ifindex");
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(index, name) == nullptr) {
    if (errno == ENXIO || errno == ENODEV) return info.Env().Null();
    ThrowErrno(info.Env(), "if_indextoname", "ifindex " + std::to_string(index), errno);
  }
  return Napi::String::New(info.Env(), name);
}

Napi::Value EnterNetns(const Napi::CallbackInfo& info) {
  Args args(info, "enterNetns");
  Napi::Env env = info.Env();
  std::string file = args.Str(0, "file");
  // thread-self, not self: the namespace of this thread, not of the process.
  UniqueFd previous(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (previous.Get() < 0) ThrowErrno(env, "open", "'/proc/thread-self/ns/net'", errno);
  UniqueFd target(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.Get() < 0) ThrowErrno(env, "open", "netns '" + file + "'", errno);
  if (setns(target.Get(), CLONE_NEWNET) < 0) ThrowErrno(env, "setns", "netns '" + file + "'", errno);
  return Napi::Number::New(env, previous.Release());
}

// On failure the fd stays open and the thread stays where it is, so that the
// caller can see the error and still has the way back.
Napi::Value RestoreNetns(const Napi::CallbackInfo& info) {
  Args args(info, "restoreNetns");
  int fd = args.Fd(0, "fd");
  if (fd <= STDERR_FILENO) args.Fail("fd", "must be an fd returned by enterNetns");
  if (setns(fd, CLONE_NEWNET) < 0)
    ThrowErrno(info.Env(), "setns", "netns fd " + std::to_string(fd), errno);
  close(fd);
  return info.Env().Undefined();
}

}  // namespace vw
