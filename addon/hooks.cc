// Read-only views of what runs on a device's hooks, in run order: the tcx
// chain (programs and the links holding them), the clsact/cls_bpf filters
// (a netlink dump), XDP, and a program's name by id. The agent uses them to
// keep its programs first and to report programs that are not its own.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "native.h"

namespace vw {

namespace {

constexpr __u32 kTcxIngress = 46;  // BPF_TCX_INGRESS (6.6 UAPI)
constexpr __u32 kTcxEgress = 47;   // BPF_TCX_EGRESS
constexpr __u32 kMprogMax = 64;    // BPF_MPROG_MAX: programs per tcx hook

// The BPF_PROG_QUERY member of union bpf_attr as of Linux 6.6, which the 6.1
// headers (and libbpf 1.1's bpf_prog_query_opts) lack: link ids and the
// hook's revision.
struct ProgQueryAttr {
  __u32 target_ifindex;
  __u32 attach_type;
  __u32 query_flags;
  __u32 attach_flags;
  __aligned_u64 prog_ids;
  __u32 count;
  __u32 pad;
  __aligned_u64 prog_attach_flags;
  __aligned_u64 link_ids;
  __aligned_u64 link_attach_flags;
  __u64 revision;
};
static_assert(offsetof(ProgQueryAttr, count) == 24, "BPF_PROG_QUERY layout");
static_assert(offsetof(ProgQueryAttr, revision) == 56, "BPF_PROG_QUERY layout");

bool IsIngress(const Args& args, size_t i) {
  std::string d = args.Str(i, "dir");
  if (d == "ingress") return true;
  if (d == "egress") return false;
  args.Fail("dir", "must be 'ingress' or 'egress'");
}

__u32 IfindexArg(const Args& args, size_t i) {
  __u32 ifindex = args.U32(i, "ifindex");
  if (ifindex == 0) args.Fail("ifindex", "must be > 0");
  return ifindex;
}

// One filter of a clsact hook, as the kernel dumps it.
struct TcFilter {
  __u32 chain = 0;
  __u32 priority = 0;
  __u32 protocol = 0;  // ETH_P_*, host order; ETH_P_ALL = 3
  __u32 handle = 0;
  std::string kind;
  __u32 progId = 0;  // cls_bpf only
  std::string name;  // cls_bpf only: TCA_BPF_NAME
  bool directAction = false;
};

const rtattr* FindAttr(const rtattr* first, int len, unsigned short type) {
  for (const rtattr* a = first; RTA_OK(a, len); a = RTA_NEXT(a, len))
    if ((a->rta_type & NLA_TYPE_MASK) == type) return a;
  return nullptr;
}

std::string AttrStr(const rtattr* a) {
  const char* s = static_cast<const char*>(RTA_DATA(a));
  size_t n = RTA_PAYLOAD(a);
  return std::string(s, strnlen(s, n));
}

__u32 AttrU32(const rtattr* a) {
  __u32 v = 0;
  if (RTA_PAYLOAD(a) >= sizeof(v)) std::memcpy(&v, RTA_DATA(a), sizeof(v));
  return v;
}

// Parses one RTM_NEWTFILTER message; false for the per-priority header the
// kernel sends before a classifier's filters (handle 0).
bool ParseFilter(const nlmsghdr* nh, TcFilter* out) {
  const tcmsg* tm = static_cast<const tcmsg*>(NLMSG_DATA(nh));
  int len = static_cast<int>(nh->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(*tm)));
  if (len < 0 || tm->tcm_handle == 0) return false;
  const rtattr* attrs = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(tm) + NLMSG_ALIGN(sizeof(*tm)));
  out->handle = tm->tcm_handle;
  out->priority = TC_H_MAJ(tm->tcm_info) >> 16;
  out->protocol = ntohs(static_cast<__u16>(TC_H_MIN(tm->tcm_info)));
  if (const rtattr* a = FindAttr(attrs, len, TCA_KIND)) out->kind = AttrStr(a);
  if (const rtattr* a = FindAttr(attrs, len, TCA_CHAIN)) out->chain = AttrU32(a);
  const rtattr* opts = FindAttr(attrs, len, TCA_OPTIONS);
  if (opts != nullptr && out->kind == "bpf") {
    const rtattr* inner = static_cast<const rtattr*>(RTA_DATA(opts));
    int ilen = static_cast<int>(RTA_PAYLOAD(opts));
    if (const rtattr* a = FindAttr(inner, ilen, TCA_BPF_ID)) out->progId = AttrU32(a);
    if (const rtattr* a = FindAttr(inner, ilen, TCA_BPF_NAME)) out->name = AttrStr(a);
    if (const rtattr* a = FindAttr(inner, ilen, TCA_BPF_FLAGS)) out->directAction = (AttrU32(a) & TCA_BPF_FLAG_ACT_DIRECT) != 0;
  }
  return true;
}

// Sends one netlink dump request (a header of `type` with `body`, and
// optional attributes) in the calling thread's network namespace and calls
// `each` for every answer of type `want`. Returns 0 or an errno.
int NetlinkDump(__u16 type, const void* body, size_t bodyLen, const std::vector<char>& attrs, __u16 want,
                const std::function<void(const nlmsghdr*)>& each) {
  UniqueFd sock(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.Get() < 0) return errno;
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(sock.Get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0) return errno;
  socklen_t alen = sizeof(local);
  if (getsockname(sock.Get(), reinterpret_cast<sockaddr*>(&local), &alen) < 0) return errno;

  const __u32 seq = 1;
  std::vector<char> req(NLMSG_SPACE(bodyLen) + attrs.size());
  nlmsghdr* nh = reinterpret_cast<nlmsghdr*>(req.data());
  nh->nlmsg_len = static_cast<__u32>(req.size());
  nh->nlmsg_type = type;
  nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nh->nlmsg_seq = seq;
  std::memcpy(NLMSG_DATA(nh), body, bodyLen);
  if (!attrs.empty()) std::memcpy(req.data() + NLMSG_SPACE(bodyLen), attrs.data(), attrs.size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(sock.Get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return errno;

  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = recv(sock.Get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    int left = static_cast<int>(n);
    for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(m, left); m = NLMSG_NEXT(m, left)) {
      if (m->nlmsg_seq != seq || m->nlmsg_pid != local.nl_pid) continue;
      if (m->nlmsg_type == NLMSG_DONE) return 0;
      if (m->nlmsg_type == NLMSG_ERROR) {
        const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
        return e->error == 0 ? 0 : -e->error;
      }
      if (m->nlmsg_type == want) each(m);
    }
  }
}

// RTM_GETTFILTER dump of one clsact direction. No qdisc or no device = empty.
int DumpFilters(__u32 ifindex, bool ingress, std::vector<TcFilter>* out) {
  tcmsg tm{};
  tm.tcm_family = AF_UNSPEC;
  tm.tcm_ifindex = static_cast<int>(ifindex);
  tm.tcm_parent = TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
  return NetlinkDump(RTM_GETTFILTER, &tm, sizeof(tm), {}, RTM_NEWTFILTER, [out](const nlmsghdr* nh) {
    TcFilter f;
    if (ParseFilter(nh, &f)) out->push_back(std::move(f));
  });
}

// XDP programs of one device, from an RTM_NEWLINK message.
struct XdpEntry {
  __u32 ifindex = 0;
  __u32 drv = 0, skb = 0, hw = 0;
};

bool ParseLinkXdp(const nlmsghdr* nh, XdpEntry* out) {
  const ifinfomsg* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(nh));
  int len = static_cast<int>(nh->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(*ifi)));
  if (len < 0) return false;
  const rtattr* attrs = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(ifi) + NLMSG_ALIGN(sizeof(*ifi)));
  const rtattr* xdp = FindAttr(attrs, len, IFLA_XDP);
  if (xdp == nullptr) return false;
  const rtattr* inner = static_cast<const rtattr*>(RTA_DATA(xdp));
  int ilen = static_cast<int>(RTA_PAYLOAD(xdp));
  const rtattr* att = FindAttr(inner, ilen, IFLA_XDP_ATTACHED);
  if (att == nullptr || RTA_PAYLOAD(att) < 1) return false;
  __u8 mode = *static_cast<const __u8*>(RTA_DATA(att));
  if (mode == XDP_ATTACHED_NONE) return false;
  out->ifindex = static_cast<__u32>(ifi->ifi_index);
  __u32 single = 0;
  if (const rtattr* a = FindAttr(inner, ilen, IFLA_XDP_PROG_ID)) single = AttrU32(a);
  if (const rtattr* a = FindAttr(inner, ilen, IFLA_XDP_DRV_PROG_ID)) out->drv = AttrU32(a);
  if (const rtattr* a = FindAttr(inner, ilen, IFLA_XDP_SKB_PROG_ID)) out->skb = AttrU32(a);
  if (const rtattr* a = FindAttr(inner, ilen, IFLA_XDP_HW_PROG_ID)) out->hw = AttrU32(a);
  // One mode in use: the kernel gives only IFLA_XDP_PROG_ID.
  if (mode == XDP_ATTACHED_DRV && out->drv == 0) out->drv = single;
  if (mode == XDP_ATTACHED_SKB && out->skb == 0) out->skb = single;
  if (mode == XDP_ATTACHED_HW && out->hw == 0) out->hw = single;
  return true;
}

}  // namespace

Napi::Value TcxChain(const Napi::CallbackInfo& info) {
  Args args(info, "tcxChain");
  Napi::Env env = info.Env();
  __u32 ifindex = IfindexArg(args, 0);
  bool ingress = IsIngress(args, 1);
  __u32 progIds[kMprogMax] = {};
  __u32 linkIds[kMprogMax] = {};
  ProgQueryAttr attr{};
  attr.target_ifindex = ifindex;
  attr.attach_type = ingress ? kTcxIngress : kTcxEgress;
  attr.prog_ids = reinterpret_cast<__u64>(progIds);
  attr.link_ids = reinterpret_cast<__u64>(linkIds);
  attr.count = kMprogMax;
  int err = SyscallErrno(syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)));
  if (err)
    ThrowErrno(env, "bpf_prog_query",
               std::string("tcx ") + (ingress ? "ingress" : "egress") + " ifindex " + std::to_string(ifindex), err,
               err == EINVAL ? "kernel without tcx" : "");
  __u32 count = attr.count < kMprogMax ? attr.count : kMprogMax;
  Napi::Array progs = Napi::Array::New(env, count);
  Napi::Array links = Napi::Array::New(env, count);
  for (__u32 i = 0; i < count; i++) {
    progs.Set(i, Napi::Number::New(env, progIds[i]));
    links.Set(i, Napi::Number::New(env, linkIds[i]));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("progIds", progs);
  out.Set("linkIds", links);
  out.Set("revision", Napi::Number::New(env, static_cast<double>(attr.revision)));
  return out;
}

Napi::Value TcList(const Napi::CallbackInfo& info) {
  Args args(info, "tcList");
  Napi::Env env = info.Env();
  __u32 ifindex = IfindexArg(args, 0);
  bool ingress = IsIngress(args, 1);
  std::vector<TcFilter> filters;
  int err = DumpFilters(ifindex, ingress, &filters);
  if (err)
    ThrowErrno(env, "RTM_GETTFILTER",
               std::string("tc ") + (ingress ? "ingress" : "egress") + " ifindex " + std::to_string(ifindex), err);
  Napi::Array out = Napi::Array::New(env, filters.size());
  for (size_t i = 0; i < filters.size(); i++) {
    const TcFilter& f = filters[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("chain", f.chain);
    o.Set("priority", f.priority);
    o.Set("protocol", f.protocol);
    o.Set("handle", f.handle);
    o.Set("kind", f.kind);
    o.Set("progId", f.progId);
    o.Set("name", f.name);
    o.Set("directAction", f.directAction);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// Every device of the calling thread's netns with an XDP program, in one
// RTM_GETLINK dump (bpf_xdp_query dumps every link for one device).
Napi::Value XdpList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  // Skip the per-device statistics: most of a link message, and not needed.
  std::vector<char> attrs(RTA_SPACE(sizeof(__u32)));
  rtattr* mask = reinterpret_cast<rtattr*>(attrs.data());
  mask->rta_type = IFLA_EXT_MASK;
  mask->rta_len = RTA_LENGTH(sizeof(__u32));
  __u32 filter = RTEXT_FILTER_SKIP_STATS;
  std::memcpy(RTA_DATA(mask), &filter, sizeof(filter));
  std::vector<XdpEntry> found;
  int err = NetlinkDump(RTM_GETLINK, &ifi, sizeof(ifi), attrs, RTM_NEWLINK, [&found](const nlmsghdr* nh) {
    XdpEntry e;
    if (ParseLinkXdp(nh, &e)) found.push_back(e);
  });
  if (err) ThrowErrno(env, "RTM_GETLINK", "XDP of every device", err);
  Napi::Array out = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ifindex", found[i].ifindex);
    o.Set("drvProgId", found[i].drv);
    o.Set("skbProgId", found[i].skb);
    o.Set("hwProgId", found[i].hw);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value XdpQuery(const Napi::CallbackInfo& info) {
  Args args(info, "xdpQuery");
  Napi::Env env = info.Env();
  __u32 ifindex = IfindexArg(args, 0);
  bpf_xdp_query_opts opts{};
  opts.sz = sizeof(opts);
  int err = LibbpfErrno(bpf_xdp_query(static_cast<int>(ifindex), 0, &opts));
  if (err) ThrowErrno(env, "bpf_xdp_query", "ifindex " + std::to_string(ifindex), err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("progId", opts.prog_id);
  out.Set("drvProgId", opts.drv_prog_id);
  out.Set("skbProgId", opts.skb_prog_id);
  out.Set("hwProgId", opts.hw_prog_id);
  return out;
}

Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Args args(info, "progInfo");
  Napi::Env env = info.Env();
  __u32 id = args.U32(0, "id");
  std::string what = "program id " + std::to_string(id);
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (fd.Get() < 0) {
    int err = LibbpfErrno(fd.Release());
    // The program went away between a query and this call.
    if (err == ENOENT) return env.Null();
    ThrowErrno(env, "bpf_prog_get_fd_by_id", what, err);
  }
  bpf_prog_info pi{};
  __u32 len = sizeof(pi);
  int err = LibbpfErrno(bpf_obj_get_info_by_fd(fd.Get(), &pi, &len));
  if (err) ThrowErrno(env, "bpf_obj_get_info_by_fd", what, err);
  char tag[2 * BPF_TAG_SIZE + 1] = {};
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", pi.id);
  out.Set("type", pi.type);
  out.Set("name", std::string(pi.name, strnlen(pi.name, sizeof(pi.name))));
  out.Set("tag", std::string(tag));
  return out;
}

}  // namespace vw
