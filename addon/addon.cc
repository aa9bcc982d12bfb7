// vrfwall_native: module registration. Each export is wrapped so that no C++
// exception other than a JS one can escape into Node (it would abort).
#include <bpf/libbpf.h>
#include <cerrno>
#include <new>

#include "errors.h"
#include "libbpf_log.h"
#include "native.h"

namespace vw {

namespace {

using Export = Napi::Value (*)(const Napi::CallbackInfo&);

template <Export Fn>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    ThrowErrno(info.Env(), "malloc", "vrfwall_native", ENOMEM);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("vrfwall_native: ") + e.what());
  }
}

template <Export Fn>
void Add(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, Guarded<Fn>, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  Add<LibbpfVersion>(env, exports, "libbpfVersion");
  Add<PossibleCpus>(env, exports, "possibleCpus");
  Add<LoadObject>(env, exports, "loadObject");
  Add<LoadObjectAsync>(env, exports, "loadObjectAsync");
  Add<CloseFd>(env, exports, "closeFd");
  Add<ObjPin>(env, exports, "objPin");
  Add<ObjGet>(env, exports, "objGet");
  Add<MapInfo>(env, exports, "mapInfo");
  Add<ProgId>(env, exports, "progId");

  Add<MapLookup>(env, exports, "mapLookup");
  Add<MapUpdate>(env, exports, "mapUpdate");
  Add<MapDelete>(env, exports, "mapDelete");
  Add<MapUpdateBatch>(env, exports, "mapUpdateBatch");
  Add<MapDeleteBatch>(env, exports, "mapDeleteBatch");
  Add<MapDump>(env, exports, "mapDump");
  Add<MapMmap>(env, exports, "mapMmap");
  Add<MapUnmap>(env, exports, "mapUnmap");

  Add<TcxAttach>(env, exports, "tcxAttach");
  Add<LinkUpdate>(env, exports, "linkUpdate");
  Add<LinkInfo>(env, exports, "linkInfo");
  Add<LinkDetach>(env, exports, "linkDetach");
  Add<TcAttach>(env, exports, "tcAttach");
  Add<TcDetach>(env, exports, "tcDetach");
  Add<TcQuery>(env, exports, "tcQuery");
  Add<TcxQuery>(env, exports, "tcxQuery");
  Add<TcxChain>(env, exports, "tcxChain");
  Add<TcList>(env, exports, "tcList");
  Add<XdpQuery>(env, exports, "xdpQuery");
  Add<XdpList>(env, exports, "xdpList");
  Add<ProgInfo>(env, exports, "progInfo");

  Add<ProgTestRun>(env, exports, "progTestRun");

  Add<RingbufOpen>(env, exports, "ringbufOpen");
  Add<RingbufClose>(env, exports, "ringbufClose");

  Add<IfNameToIndex>(env, exports, "ifNameToIndex");
  Add<IfIndexToName>(env, exports, "ifIndexToName");
  Add<EnterNetns>(env, exports, "enterNetns");
  Add<RestoreNetns>(env, exports, "restoreNetns");

  Add<ReleaseMemory>(env, exports, "releaseMemory");
  return exports;
}

}  // namespace
}  // namespace vw

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return vw::Init(env, exports);
}

NODE_API_MODULE(vrfwall_native, InitModule)
