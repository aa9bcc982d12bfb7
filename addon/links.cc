// tcx links (Linux 6.6+) and the clsact/cls_bpf fallback for older kernels.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "libbpf_log.h"
#include "native.h"

namespace vw {

namespace {

// Linux 6.6 UAPI values that libbpf 1.1 / the 6.1 headers do not have.
constexpr int kTcxIngress = 46;  // BPF_TCX_INGRESS
constexpr int kTcxEgress = 47;   // BPF_TCX_EGRESS
constexpr __u32 kLinkTypeTcx = 11;  // BPF_LINK_TYPE_TCX
// bpf_mprog position flags (6.6 UAPI). BPF_F_BEFORE with no relative fd or
// id puts the new link before every program on the hook.
constexpr __u32 kFBefore = 1U << 3;  // BPF_F_BEFORE

// struct bpf_link_info's `tcx` union member (6.6 UAPI):
//   struct { __u32 ifindex; __u32 attach_type; } tcx;
// It sits, like every member of that union, at the union's start. The 6.1
// header has the same union (8-byte aligned, after type/id/prog_id), so we
// read it through the `xdp` member's address, which is that start.
struct TcxLinkInfo {
  __u32 ifindex;
  __u32 attach_type;
};
static_assert(offsetof(bpf_link_info, xdp) == 16, "bpf_link_info union moved");
static_assert(sizeof(bpf_link_info) - offsetof(bpf_link_info, xdp) >= sizeof(TcxLinkInfo),
              "bpf_link_info union too small for tcx");

constexpr __u32 kTcMaxPriority = 0xFFFF;
constexpr __u32 kTcxQueryMax = 64;  // programs listed per tcx hook  // cls_bpf priorities are 16 bits

enum class Dir { kIngress, kEgress };

Dir DirArg(const Args& args, size_t i) {
  std::string d = args.Str(i, "dir");
  if (d == "ingress") return Dir::kIngress;
  if (d == "egress") return Dir::kEgress;
  args.Fail("dir", "must be 'ingress' or 'egress'");
}

const char* DirName(Dir d) { return d == Dir::kIngress ? "ingress" : "egress"; }

// The tc (handle, priority) slot named by the arguments at i, i + 1.
struct TcSlot {
  bpf_tc_hook hook;
  bpf_tc_opts opts;
  std::string what;  // "tc ingress ifindex 5 handle 1 priority 1"
};

TcSlot TcSlotArgs(const Args& args, size_t ifindexAt, size_t dirAt, size_t handleAt) {
  TcSlot s{};
  __u32 ifindex = args.U32(ifindexAt, "ifindex");
  Dir dir = DirArg(args, dirAt);
  __u32 handle = args.U32(handleAt, "handle");
  __u32 priority = args.U32(handleAt + 1, "priority");
  if (ifindex == 0) args.Fail("ifindex", "must be > 0");
  if (handle == 0) args.Fail("handle", "must be > 0");
  if (priority == 0 || priority > kTcMaxPriority)
    args.Fail("priority", "must be between 1 and " + std::to_string(kTcMaxPriority));
  s.hook.sz = sizeof(s.hook);
  s.hook.ifindex = static_cast<int>(ifindex);
  s.hook.attach_point = dir == Dir::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  s.opts.sz = sizeof(s.opts);
  s.opts.handle = handle;
  s.opts.priority = priority;
  s.what = std::string("tc ") + DirName(dir) + " ifindex " + std::to_string(ifindex) +
           " handle " + std::to_string(handle) + " priority " + std::to_string(priority);
  return s;
}

}  // namespace

Napi::Value TcxAttach(const Napi::CallbackInfo& info) {
  Args args(info, "tcxAttach");
  int progFd = args.Fd(0, "progFd");
  __u32 ifindex = args.U32(1, "ifindex");
  Dir dir = DirArg(args, 2);
  if (ifindex == 0) args.Fail("ifindex", "must be > 0");
  // 'last' (the kernel's default: after every program there) or 'first'.
  bool first = false;
  if (args.Has(3)) {
    std::string where = args.Str(3, "where");
    if (where == "first") first = true;
    else if (where != "last") args.Fail("where", "must be 'first' or 'last'");
  }
  int type = dir == Dir::kIngress ? kTcxIngress : kTcxEgress;
  // libbpf 1.1 has no tcx options, but passes link_create.flags through for
  // attach types it does not know; relative_fd/id stay 0.
  bpf_link_create_opts opts{};
  opts.sz = sizeof(opts);
  opts.flags = first ? kFBefore : 0;
  int fd = bpf_link_create(progFd, static_cast<int>(ifindex),
                           static_cast<bpf_attach_type>(type), &opts);
  if (fd < 0) {
    int err = LibbpfErrno(fd);
    // Kernels before 6.6 do not know the attach type: EINVAL. The caller
    // falls back to tcAttach on that.
    ThrowErrno(info.Env(), "bpf_link_create",
               std::string("tcx ") + DirName(dir) + (first ? " first" : "") + " ifindex " +
                   std::to_string(ifindex) + " prog fd " + std::to_string(progFd),
               err, err == EINVAL ? "kernel without tcx, or not a tc program" : "");
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LinkUpdate(const Napi::CallbackInfo& info) {
  Args args(info, "linkUpdate");
  int linkFd = args.Fd(0, "linkFd");
  int progFd = args.Fd(1, "progFd");
  int err = LibbpfErrno(bpf_link_update(linkFd, progFd, nullptr));
  if (err)
    ThrowErrno(info.Env(), "bpf_link_update",
               "link fd " + std::to_string(linkFd) + " prog fd " + std::to_string(progFd), err);
  return info.Env().Undefined();
}

Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Args args(info, "linkInfo");
  Napi::Env env = info.Env();
  int linkFd = args.Fd(0, "linkFd");
  std::string what = "link fd " + std::to_string(linkFd);
  RequireBpfFd(env, linkFd, BpfKind::kLink, "bpf_obj_get_info_by_fd", what);
  bpf_link_info li{};
  __u32 len = sizeof(li);
  int err = LibbpfErrno(bpf_obj_get_info_by_fd(linkFd, &li, &len));
  if (err) ThrowErrno(env, "bpf_obj_get_info_by_fd", what, err);

  TcxLinkInfo tcx{};
  if (li.type == kLinkTypeTcx) std::memcpy(&tcx, &li.xdp, sizeof(tcx));
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", li.id);
  out.Set("progId", li.prog_id);
  out.Set("type", li.type);
  out.Set("ifindex", li.type == BPF_LINK_TYPE_XDP ? li.xdp.ifindex : tcx.ifindex);
  out.Set("attachType", tcx.attach_type);
  return out;
}

Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  Args args(info, "linkDetach");
  int linkFd = args.Fd(0, "linkFd");
  int err = LibbpfErrno(bpf_link_detach(linkFd));
  if (err) ThrowErrno(info.Env(), "bpf_link_detach", "link fd " + std::to_string(linkFd), err);
  return info.Env().Undefined();
}

// The tc calls talk netlink in the calling thread's network namespace; the
// kernel's reason for a refusal (extack) arrives through libbpf's log.
Napi::Value TcAttach(const Napi::CallbackInfo& info) {
  Args args(info, "tcAttach");
  Napi::Env env = info.Env();
  int progFd = args.Fd(0, "progFd");
  TcSlot s = TcSlotArgs(args, 1, 2, 3);
  LibbpfLog log;
  // One clsact qdisc serves both directions; it may be there already.
  int err = LibbpfErrno(bpf_tc_hook_create(&s.hook));
  if (err && err != EEXIST) ThrowErrno(env, "bpf_tc_hook_create", s.what, err, log.Tail());
  s.opts.prog_fd = progFd;
  s.opts.flags = BPF_TC_F_REPLACE;
  err = LibbpfErrno(bpf_tc_attach(&s.hook, &s.opts));
  if (err)
    ThrowErrno(env, "bpf_tc_attach", s.what + " prog fd " + std::to_string(progFd), err, log.Tail());
  return env.Undefined();
}

Napi::Value TcDetach(const Napi::CallbackInfo& info) {
  Args args(info, "tcDetach");
  TcSlot s = TcSlotArgs(args, 0, 1, 2);
  LibbpfLog log;
  int err = LibbpfErrno(bpf_tc_detach(&s.hook, &s.opts));
  if (err) ThrowErrno(info.Env(), "bpf_tc_detach", s.what, err, log.Tail());
  return info.Env().Undefined();
}

Napi::Value TcQuery(const Napi::CallbackInfo& info) {
  Args args(info, "tcQuery");
  TcSlot s = TcSlotArgs(args, 0, 1, 2);
  LibbpfLog log;
  int err = LibbpfErrno(bpf_tc_query(&s.hook, &s.opts));
  // ENOENT: no filter at (handle, priority). EINVAL: no clsact qdisc on the
  // device at all (arguments were checked above, and a missing device is
  // ENODEV) -- nothing attached either way.
  if (err == ENOENT || err == EINVAL) return Napi::Number::New(info.Env(), 0);
  if (err) ThrowErrno(info.Env(), "bpf_tc_query", s.what, err, log.Tail());
  return Napi::Number::New(info.Env(), s.opts.prog_id);
}

Napi::Value TcxQuery(const Napi::CallbackInfo& info) {
  Args args(info, "tcxQuery");
  __u32 ifindex = args.U32(0, "ifindex");
  Dir dir = DirArg(args, 1);
  if (ifindex == 0) args.Fail("ifindex", "must be > 0");
  int type = dir == Dir::kIngress ? kTcxIngress : kTcxEgress;
  // BPF_PROG_QUERY's target_fd shares its slot with target_ifindex.
  __u32 ids[kTcxQueryMax] = {};
  __u32 count = kTcxQueryMax;
  int err = LibbpfErrno(bpf_prog_query(static_cast<int>(ifindex), static_cast<bpf_attach_type>(type), 0,
                                       nullptr, ids, &count));
  if (err)
    ThrowErrno(info.Env(), "bpf_prog_query",
               std::string("tcx ") + DirName(dir) + " ifindex " + std::to_string(ifindex), err);
  Napi::Array out = Napi::Array::New(info.Env(), count);
  for (__u32 i = 0; i < count; i++) out.Set(i, Napi::Number::New(info.Env(), ids[i]));
  return out;
}

}  // namespace vw
