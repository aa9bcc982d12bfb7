// Giving memory back to the system after a burst of work: a memory-reducing
// V8 collection (what V8 runs under memory pressure: it compacts the old
// generation and shrinks the young one, which a plain full collection does
// not) and malloc_trim of the C heap (freed Buffer and typed-array memory
// that glibc otherwise keeps). Called by the agent when it is quiet
// (src/util/memory.ts); a full collection's pause.
#include <malloc.h>
#include <v8.h>

#include "native.h"

namespace vw {

Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool collected = false;
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) {
    isolate->LowMemoryNotification();
    collected = true;
  }
  const bool trimmed = malloc_trim(0) != 0;
  Napi::Object out = Napi::Object::New(env);
  out.Set("collected", Napi::Boolean::New(env, collected));
  out.Set("trimmed", Napi::Boolean::New(env, trimmed));
  return out;
}

}  // namespace vw
