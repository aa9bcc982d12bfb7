// Argument checking for the exports: each getter validates one argument and
// throws a TypeError naming the function and the argument when it is wrong,
// so that bad input never reaches libbpf or the kernel.
#pragma once

#include <napi.h>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vw {

// A read-only view of a Buffer/Uint8Array argument, valid during the call.
struct Bytes {
  const uint8_t* data;
  size_t size;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn) : info_(info), fn_(fn) {}

  Napi::Env Env() const { return info_.Env(); }
  // True when argument i was passed and is not undefined.
  bool Has(size_t i) const;

  int Fd(size_t i, const char* name) const;
  uint32_t U32(size_t i, const char* name) const;
  uint64_t U64(size_t i, const char* name) const;  // up to 2^53
  std::string Str(size_t i, const char* name) const;
  Bytes Buf(size_t i, const char* name) const;
  Napi::Object Obj(size_t i, const char* name) const;

  // TypeError "fn: argument 'name' <what>".
  [[noreturn]] void Fail(const char* name, const std::string& what) const;
  // Checks a buffer's size; `rule` explains the expected size in the error.
  void RequireSize(const char* name, const Bytes& b, size_t expected,
                   const std::string& rule) const;

 private:
  double Number(size_t i, const char* name, double max) const;

  const Napi::CallbackInfo& info_;
  const char* fn_;
};

}  // namespace vw
