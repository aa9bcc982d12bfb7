#include "args.h"

#include <cmath>

#include "errors.h"

namespace vw {

bool Args::Has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined(); }

void Args::Fail(const char* name, const std::string& what) const {
  ThrowType(Env(), std::string(fn_) + ": argument '" + name + "' " + what);
}

double Args::Number(size_t i, const char* name, double max) const {
  if (!Has(i) || !info_[i].IsNumber()) Fail(name, "must be a number");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > max)
    Fail(name, "must be an integer between 0 and " + std::to_string(static_cast<uint64_t>(max)));
  return v;
}

int Args::Fd(size_t i, const char* name) const {
  return static_cast<int>(Number(i, name, INT32_MAX));
}

uint32_t Args::U32(size_t i, const char* name) const {
  return static_cast<uint32_t>(Number(i, name, UINT32_MAX));
}

uint64_t Args::U64(size_t i, const char* name) const {
  constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
  return static_cast<uint64_t>(Number(i, name, kMaxSafe));
}

std::string Args::Str(size_t i, const char* name) const {
  if (!Has(i) || !info_[i].IsString()) Fail(name, "must be a string");
  std::string s = info_[i].As<Napi::String>().Utf8Value();
  if (s.empty()) Fail(name, "must not be empty");
  if (s.find('\0') != std::string::npos) Fail(name, "must not contain NUL");
  return s;
}

Bytes Args::Buf(size_t i, const char* name) const {
  if (!Has(i) || !info_[i].IsTypedArray() ||
      info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    Fail(name, "must be a Buffer");
  auto arr = info_[i].As<Napi::Uint8Array>();
  return Bytes{arr.Data(), arr.ByteLength()};
}

Napi::Object Args::Obj(size_t i, const char* name) const {
  if (!Has(i) || !info_[i].IsObject()) Fail(name, "must be an object");
  return info_[i].As<Napi::Object>();
}

void Args::RequireSize(const char* name, const Bytes& b, size_t expected,
                       const std::string& rule) const {
  if (b.size != expected)
    Fail(name, "must be " + std::to_string(expected) + " bytes (" + rule + "), got " +
                   std::to_string(b.size));
}

}  // namespace vw
