// BPF_PROG_TEST_RUN: run a loaded program on a crafted packet.
#include <bpf/bpf.h>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "native.h"

namespace vw {

namespace {
// Room for programs that grow the packet (bpf_skb_change_head, adjust_room).
constexpr size_t kDataOutHeadroom = 64 * 1024;
}  // namespace

Napi::Value ProgTestRun(const Napi::CallbackInfo& info) {
  Args args(info, "progTestRun");
  Napi::Env env = info.Env();
  int progFd = args.Fd(0, "progFd");
  Bytes data = args.Buf(1, "data");
  uint32_t repeat = args.U32(2, "repeat");
  if (data.size == 0 || data.size > UINT32_MAX - kDataOutHeadroom)
    args.Fail("data", "must hold a packet");

  std::vector<uint8_t> out(data.size + kDataOutHeadroom);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = data.data;
  opts.data_size_in = static_cast<__u32>(data.size);
  opts.data_out = out.data();
  opts.data_size_out = static_cast<__u32>(out.size());
  opts.repeat = static_cast<int>(repeat > INT32_MAX ? INT32_MAX : repeat);
  // The context comes back too (ctx_out): programs may leave results in it
  // (explain's probes read the decision from skb->cb).
  std::vector<uint8_t> ctxOut;
  if (args.Has(3)) {
    Bytes ctx = args.Buf(3, "ctx");
    opts.ctx_in = ctx.data;
    opts.ctx_size_in = static_cast<__u32>(ctx.size);
    ctxOut.resize(ctx.size);
    opts.ctx_out = ctxOut.data();
    opts.ctx_size_out = static_cast<__u32>(ctxOut.size());
  }
  int err = LibbpfErrno(bpf_prog_test_run_opts(progFd, &opts));
  if (err) ThrowErrno(env, "bpf_prog_test_run_opts", "prog fd " + std::to_string(progFd), err);

  Napi::Object result = Napi::Object::New(env);
  // tc programs may return TC_ACT_UNSPEC (-1): the kernel's u32 is signed.
  result.Set("retval", Napi::Number::New(env, static_cast<int32_t>(opts.retval)));
  result.Set("duration", Napi::Number::New(env, opts.duration));
  result.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
  if (!ctxOut.empty()) {
    result.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, ctxOut.data(), opts.ctx_size_out));
  }
  return result;
}

}  // namespace vw
