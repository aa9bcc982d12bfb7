// Loading ELF objects, pins, fds and program ids.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <vector>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "libbpf_log.h"
#include "native.h"

namespace vw {

namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";
constexpr long kBpffsMagic = 0xcafe4a11;  // BPF_FS_MAGIC, linux/magic.h

struct ObjectCloser {
  void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

void MkdirAll(Napi::Env env, const std::string& dir) {
  for (size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) < 0 && errno != EEXIST)
      ThrowErrno(env, "mkdir", "'" + part + "'", errno);
    if (pos == std::string::npos) return;
  }
}

bool IsUnder(const std::string& path, const std::string& root) {
  return path == root || path.rfind(root + "/", 0) == 0;
}

// Pins need a bpffs; Debian does not mount one at /sys/fs/bpf by default.
void EnsureBpffsDir(Napi::Env env, const std::string& dir) {
  if (IsUnder(dir, kBpffsRoot)) {
    struct statfs st {};
    if (statfs(kBpffsRoot, &st) < 0) ThrowErrno(env, "statfs", kBpffsRoot, errno);
    if (st.f_type != kBpffsMagic &&
        mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") < 0)
      ThrowErrno(env, "mount", std::string("bpffs on ") + kBpffsRoot, errno);
  }
  MkdirAll(env, dir);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Our own copy of an fd libbpf owns: survives bpf_object__close.
UniqueFd DupFd(Napi::Env env, int fd, const std::string& object) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", object, errno);
  return UniqueFd(copy);
}

void ApplyMaxEntries(Napi::Env env, bpf_object* obj, const std::string& file,
                     const Napi::Object& overrides) {
  Napi::Array names = overrides.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).ToString().Utf8Value();
    Napi::Value v = overrides.Get(name);
    double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 1 && n <= UINT32_MAX && n == static_cast<uint32_t>(n)))
      ThrowType(env, "loadObject: opts.maxEntries['" + name + "'] must be an integer >= 1");
    std::string what = "object '" + file + "' map '" + name + "'";
    bpf_map* map = bpf_object__find_map_by_name(obj, name.c_str());
    if (map == nullptr) ThrowErrno(env, "bpf_object__find_map_by_name", what, ENOENT);
    int err = LibbpfErrno(bpf_map__set_max_entries(map, static_cast<uint32_t>(n)));
    if (err) ThrowErrno(env, "bpf_map__set_max_entries", what, err);
  }
}

}  // namespace

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  std::string v = std::to_string(libbpf_major_version()) + "." +
                  std::to_string(libbpf_minor_version());
  return Napi::String::New(info.Env(), v);
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", "", -n);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value LoadObject(const Napi::CallbackInfo& info) {
  Args args(info, "loadObject");
  Napi::Env env = info.Env();
  std::string file = args.Str(0, "file");
  Napi::Object opts = args.Obj(1, "opts");
  Napi::Value pinRootValue = opts.Get("pinRoot");
  if (!pinRootValue.IsString() || pinRootValue.As<Napi::String>().Utf8Value().empty())
    ThrowType(env, "loadObject: opts.pinRoot must be a non-empty string");
  std::string pinRoot = pinRootValue.As<Napi::String>().Utf8Value();
  Napi::Value maxEntries = opts.Get("maxEntries");
  if (!maxEntries.IsUndefined() && !maxEntries.IsObject())
    ThrowType(env, "loadObject: opts.maxEntries must be an object");

  EnsureBpffsDir(env, pinRoot);
  LibbpfLog log;
  std::string what = "'" + file + "'";

  bpf_object_open_opts openOpts{};
  openOpts.sz = sizeof(openOpts);
  openOpts.pin_root_path = pinRoot.c_str();
  ObjectPtr obj(bpf_object__open_file(file.c_str(), &openOpts));
  if (!obj) ThrowErrno(env, "bpf_object__open_file", what, errno, log.Tail());

  if (maxEntries.IsObject()) ApplyMaxEntries(env, obj.get(), file, maxEntries.As<Napi::Object>());

  // Maps with LIBBPF_PIN_BY_NAME are reused from pinRoot when pinned there
  // already (and must then match), else created and pinned.
  int err = LibbpfErrno(bpf_object__load(obj.get()));
  if (err) ThrowErrno(env, "bpf_object__load", what, err, log.Tail());

  // Collect owned copies first so that a failure half-way leaks nothing.
  std::vector<std::pair<std::string, UniqueFd>> progs, maps;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj.get()) {
    std::string name = bpf_program__name(prog);
    progs.emplace_back(name, DupFd(env, bpf_program__fd(prog), "program '" + name + "'"));
  }
  bpf_map* map;
  bpf_object__for_each_map(map, obj.get()) {
    if (bpf_map__fd(map) < 0) continue;  // not created (autocreate off)
    std::string name = bpf_map__name(map);
    maps.emplace_back(name, DupFd(env, bpf_map__fd(map), "map '" + name + "'"));
  }

  Napi::Object result = Napi::Object::New(env);
  Napi::Object progsOut = Napi::Object::New(env);
  Napi::Object mapsOut = Napi::Object::New(env);
  result.Set("programs", progsOut);
  result.Set("maps", mapsOut);
  for (auto& [name, fd] : progs) progsOut.Set(name, Napi::Number::New(env, fd.Get()));
  for (auto& [name, fd] : maps) mapsOut.Set(name, Napi::Number::New(env, fd.Get()));
  // Nothing can throw past this point: hand the fds to JS.
  for (auto& p : progs) p.second.Release();
  for (auto& m : maps) m.second.Release();
  return result;
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Args args(info, "closeFd");
  int fd = args.Fd(0, "fd");
  // Refuse stdio: closing those by mistake breaks the whole process.
  if (fd <= STDERR_FILENO) args.Fail("fd", "must not be stdin/stdout/stderr");
  if (close(fd) < 0) ThrowErrno(info.Env(), "close", "fd " + std::to_string(fd), errno);
  return info.Env().Undefined();
}

Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  Args args(info, "objPin");
  int fd = args.Fd(0, "fd");
  std::string file = args.Str(1, "file");
  EnsureBpffsDir(info.Env(), Dirname(file));
  int err = LibbpfErrno(bpf_obj_pin(fd, file.c_str()));
  if (err) ThrowErrno(info.Env(), "bpf_obj_pin", "fd " + std::to_string(fd) + " at '" + file + "'", err);
  return info.Env().Undefined();
}

Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  Args args(info, "objGet");
  std::string file = args.Str(0, "file");
  int fd = bpf_obj_get(file.c_str());
  if (fd < 0) ThrowErrno(info.Env(), "bpf_obj_get", "'" + file + "'", LibbpfErrno(fd));
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ProgId(const Napi::CallbackInfo& info) {
  Args args(info, "progId");
  int fd = args.Fd(0, "fd");
  std::string what = "program fd " + std::to_string(fd);
  RequireBpfFd(info.Env(), fd, BpfKind::kProg, "bpf_obj_get_info_by_fd", what);
  bpf_prog_info pi{};
  __u32 len = sizeof(pi);
  int err = LibbpfErrno(bpf_obj_get_info_by_fd(fd, &pi, &len));
  if (err) ThrowErrno(info.Env(), "bpf_obj_get_info_by_fd", what, err);
  return Napi::Number::New(info.Env(), pi.id);
}

}  // namespace vw
