// Shared declarations of the vrfwall native addon: one function per JS export
// (see src/kernel/native.ts for the contract), grouped by source file.
#pragma once

#include <napi.h>

namespace vw {

// object.cc: objects, pins, fds, program ids
Napi::Value LibbpfVersion(const Napi::CallbackInfo& info);
Napi::Value PossibleCpus(const Napi::CallbackInfo& info);
// memory.cc
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info);
Napi::Value LoadObject(const Napi::CallbackInfo& info);
Napi::Value LoadObjectAsync(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value ObjPin(const Napi::CallbackInfo& info);
Napi::Value ObjGet(const Napi::CallbackInfo& info);
Napi::Value ProgId(const Napi::CallbackInfo& info);

// maps.cc: map info, element and batch operations, dumps
Napi::Value MapInfo(const Napi::CallbackInfo& info);
Napi::Value MapLookup(const Napi::CallbackInfo& info);
Napi::Value MapUpdate(const Napi::CallbackInfo& info);
Napi::Value MapDelete(const Napi::CallbackInfo& info);
Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info);
Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info);
Napi::Value MapDump(const Napi::CallbackInfo& info);
Napi::Value MapMmap(const Napi::CallbackInfo& info);
Napi::Value MapUnmap(const Napi::CallbackInfo& info);

// links.cc: tcx links and the clsact/cls_bpf fallback
Napi::Value TcxAttach(const Napi::CallbackInfo& info);
Napi::Value LinkUpdate(const Napi::CallbackInfo& info);
Napi::Value LinkInfo(const Napi::CallbackInfo& info);
Napi::Value LinkDetach(const Napi::CallbackInfo& info);
Napi::Value TcAttach(const Napi::CallbackInfo& info);
Napi::Value TcDetach(const Napi::CallbackInfo& info);
Napi::Value TcQuery(const Napi::CallbackInfo& info);
Napi::Value TcxQuery(const Napi::CallbackInfo& info);

// hooks.cc: what runs on a device's hooks, in order (read-only)
Napi::Value TcxChain(const Napi::CallbackInfo& info);
Napi::Value TcList(const Napi::CallbackInfo& info);
Napi::Value XdpQuery(const Napi::CallbackInfo& info);
Napi::Value XdpList(const Napi::CallbackInfo& info);
Napi::Value ProgInfo(const Napi::CallbackInfo& info);

// testrun.cc
Napi::Value ProgTestRun(const Napi::CallbackInfo& info);

// ringbuf.cc: BPF ring buffer reader polled from the event loop
Napi::Value RingbufOpen(const Napi::CallbackInfo& info);
Napi::Value RingbufClose(const Napi::CallbackInfo& info);

// netns.cc
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info);
Napi::Value IfIndexToName(const Napi::CallbackInfo& info);
Napi::Value EnterNetns(const Napi::CallbackInfo& info);
Napi::Value RestoreNetns(const Napi::CallbackInfo& info);

}  // namespace vw
