// Loading ELF objects, pins, fds and program ids.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <new>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <utility>
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

// Why a load failed, as ThrowErrno / ErrnoError take it: built on any
// thread, turned into a JS Error on the JS thread.
struct LoadFailure {
  std::string syscall;
  std::string object;
  int err = 0;
  std::string detail;
};

bool MkdirAll(const std::string& dir, LoadFailure& f) {
  for (size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) < 0 && errno != EEXIST) {
      f = {"mkdir", "'" + part + "'", errno, ""};
      return false;
    }
    if (pos == std::string::npos) return true;
  }
}

bool IsUnder(const std::string& path, const std::string& root) {
  return path == root || path.rfind(root + "/", 0) == 0;
}

// Pins need a bpffs; Debian does not mount one at /sys/fs/bpf by default.
bool EnsureBpffsDir(const std::string& dir, LoadFailure& f) {
  if (IsUnder(dir, kBpffsRoot)) {
    struct statfs st {};
    if (statfs(kBpffsRoot, &st) < 0) {
      f = {"statfs", kBpffsRoot, errno, ""};
      return false;
    }
    if (st.f_type != kBpffsMagic && mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") < 0) {
      f = {"mount", std::string("bpffs on ") + kBpffsRoot, errno, ""};
      return false;
    }
  }
  return MkdirAll(dir, f);
}

void EnsureBpffsDir(Napi::Env env, const std::string& dir) {
  LoadFailure f;
  if (!EnsureBpffsDir(dir, f)) ThrowErrno(env, f.syscall, f.object, f.err);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Our own copy of an fd libbpf owns: survives bpf_object__close.
bool DupFd(int fd, const std::string& object, UniqueFd& out, LoadFailure& f) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) {
    f = {"fcntl(F_DUPFD_CLOEXEC)", object, errno, ""};
    return false;
  }
  out.Reset(copy);
  return true;
}

// What loadObject / loadObjectAsync were asked, checked on the JS thread.
struct LoadRequest {
  std::string file;
  std::string pinRoot;
  std::vector<std::pair<std::string, uint32_t>> maxEntries;
};

LoadRequest ParseLoadRequest(const Napi::CallbackInfo& info, const char* fn) {
  Args args(info, fn);
  Napi::Env env = info.Env();
  LoadRequest r;
  r.file = args.Str(0, "file");
  Napi::Object opts = args.Obj(1, "opts");
  Napi::Value pinRootValue = opts.Get("pinRoot");
  if (!pinRootValue.IsString() || pinRootValue.As<Napi::String>().Utf8Value().empty())
    ThrowType(env, std::string(fn) + ": opts.pinRoot must be a non-empty string");
  r.pinRoot = pinRootValue.As<Napi::String>().Utf8Value();
  Napi::Value maxEntries = opts.Get("maxEntries");
  if (!maxEntries.IsUndefined() && !maxEntries.IsObject())
    ThrowType(env, std::string(fn) + ": opts.maxEntries must be an object");
  if (maxEntries.IsObject()) {
    Napi::Object overrides = maxEntries.As<Napi::Object>();
    Napi::Array names = overrides.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).ToString().Utf8Value();
      Napi::Value v = overrides.Get(name);
      double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(n >= 1 && n <= UINT32_MAX && n == static_cast<uint32_t>(n)))
        ThrowType(env, std::string(fn) + ": opts.maxEntries['" + name + "'] must be an integer >= 1");
      r.maxEntries.emplace_back(name, static_cast<uint32_t>(n));
    }
  }
  return r;
}

// The fds of a loaded object, owned until handed to JS.
struct Loaded {
  std::vector<std::pair<std::string, UniqueFd>> progs, maps;
};

// Open, size and load an object. Touches no JS value: runs on the JS thread
// (loadObject) or on a worker thread (loadObjectAsync), whose verifier runs
// are then not interrupted by the JS thread's signals (a CPU profiler's).
bool LoadCore(const LoadRequest& r, Loaded& out, LoadFailure& f) {
  if (!EnsureBpffsDir(r.pinRoot, f)) return false;
  LibbpfLog log;
  std::string what = "'" + r.file + "'";

  bpf_object_open_opts openOpts{};
  openOpts.sz = sizeof(openOpts);
  openOpts.pin_root_path = r.pinRoot.c_str();
  ObjectPtr obj(bpf_object__open_file(r.file.c_str(), &openOpts));
  if (!obj) {
    f = {"bpf_object__open_file", what, errno, log.Tail()};
    return false;
  }

  for (const auto& [name, n] : r.maxEntries) {
    std::string mapWhat = "object '" + r.file + "' map '" + name + "'";
    bpf_map* map = bpf_object__find_map_by_name(obj.get(), name.c_str());
    if (map == nullptr) {
      f = {"bpf_object__find_map_by_name", mapWhat, ENOENT, ""};
      return false;
    }
    int err = LibbpfErrno(bpf_map__set_max_entries(map, n));
    if (err) {
      f = {"bpf_map__set_max_entries", mapWhat, err, ""};
      return false;
    }
  }

  // Maps with LIBBPF_PIN_BY_NAME are reused from pinRoot when pinned there
  // already (and must then match), else created and pinned.
  int err = LibbpfErrno(bpf_object__load(obj.get()));
  if (err) {
    f = {"bpf_object__load", what, err, log.Tail()};
    return false;
  }

  // Owned copies: a failure half-way leaks nothing.
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj.get()) {
    std::string name = bpf_program__name(prog);
    UniqueFd fd;
    if (!DupFd(bpf_program__fd(prog), "program '" + name + "'", fd, f)) return false;
    out.progs.emplace_back(name, std::move(fd));
  }
  bpf_map* map;
  bpf_object__for_each_map(map, obj.get()) {
    if (bpf_map__fd(map) < 0) continue;  // not created (autocreate off)
    std::string name = bpf_map__name(map);
    UniqueFd fd;
    if (!DupFd(bpf_map__fd(map), "map '" + name + "'", fd, f)) return false;
    out.maps.emplace_back(name, std::move(fd));
  }
  return true;
}

// {programs, maps} for JS; the fds are JS's from here on.
Napi::Object LoadedToJs(Napi::Env env, Loaded& loaded) {
  Napi::Object result = Napi::Object::New(env);
  Napi::Object progsOut = Napi::Object::New(env);
  Napi::Object mapsOut = Napi::Object::New(env);
  result.Set("programs", progsOut);
  result.Set("maps", mapsOut);
  for (auto& [name, fd] : loaded.progs) progsOut.Set(name, Napi::Number::New(env, fd.Get()));
  for (auto& [name, fd] : loaded.maps) mapsOut.Set(name, Napi::Number::New(env, fd.Get()));
  // Nothing can throw past this point: hand the fds to JS.
  for (auto& p : loaded.progs) p.second.Release();
  for (auto& m : loaded.maps) m.second.Release();
  return result;
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, LoadRequest request)
      : Napi::AsyncWorker(env, "vrfwall.loadObjectAsync"),
        request_(std::move(request)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      ok_ = LoadCore(request_, loaded_, failure_);
    } catch (const std::bad_alloc&) {
      failure_ = {"malloc", "vrfwall_native", ENOMEM, ""};
      ok_ = false;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!ok_) {
      deferred_.Reject(ErrnoError(env, failure_.syscall, failure_.object, failure_.err, failure_.detail).Value());
      return;
    }
    deferred_.Resolve(LoadedToJs(env, loaded_));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  LoadRequest request_;
  Napi::Promise::Deferred deferred_;
  Loaded loaded_;
  LoadFailure failure_;
  bool ok_ = false;
};

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
  LoadRequest r = ParseLoadRequest(info, "loadObject");
  Loaded loaded;
  LoadFailure f;
  if (!LoadCore(r, loaded, f)) ThrowErrno(info.Env(), f.syscall, f.object, f.err, f.detail);
  return LoadedToJs(info.Env(), loaded);
}

Napi::Value LoadObjectAsync(const Napi::CallbackInfo& info) {
  LoadRequest r = ParseLoadRequest(info, "loadObjectAsync");
  auto* worker = new LoadWorker(info.Env(), std::move(r));  // deletes itself after OnOK/OnError
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
