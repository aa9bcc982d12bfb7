// Map element and batch operations, map info and whole-map dumps.
#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>
#include <sys/mman.h>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "native.h"

namespace vw {

namespace {

constexpr int kENOTSUPP = 524;          // kernel: map type lacks the operation
constexpr uint32_t kDumpChunk = 4096;   // entries per BPF_MAP_LOOKUP_BATCH call
constexpr uint32_t kMaxChunk = 1u << 24;

// What every map operation needs to know about its map: sizes to check the
// caller's buffers against and a name for error messages.
struct MapMeta {
  int fd;
  bpf_map_info info;
  size_t keySize;
  size_t valueSize;  // per element as user space sees it (all CPUs for per-CPU)
  std::string what;  // "map 'endpoints' fd 12"
};

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Types whose kernel implementation has BPF_MAP_LOOKUP_BATCH; the others
// (e.g. LPM_TRIE) are dumped by key iteration.
bool HasLookupBatch(uint32_t type) {
  return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// Errors meaning "this map type has no such batch operation".
bool BatchUnsupported(int err) {
  return err == kENOTSUPP || err == EOPNOTSUPP || err == EINVAL;
}

MapMeta GetMapMeta(Napi::Env env, int fd) {
  MapMeta m{};
  m.fd = fd;
  m.what = "map fd " + std::to_string(fd);
  RequireBpfFd(env, fd, BpfKind::kMap, "bpf_obj_get_info_by_fd", m.what);
  __u32 len = sizeof(m.info);
  int err = LibbpfErrno(bpf_obj_get_info_by_fd(fd, &m.info, &len));
  if (err) ThrowErrno(env, "bpf_obj_get_info_by_fd", m.what, err);
  m.keySize = m.info.key_size;
  m.valueSize = m.info.value_size;
  if (IsPerCpu(m.info.type)) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus < 0) ThrowErrno(env, "libbpf_num_possible_cpus", m.what, -cpus);
    // The kernel copies one 8-byte aligned slot per possible CPU.
    m.valueSize = (m.valueSize + 7) / 8 * 8 * static_cast<size_t>(cpus);
  }
  m.what = "map '" + std::string(m.info.name) + "' fd " + std::to_string(fd);
  return m;
}

std::string KeyRule(const MapMeta& m) { return "keySize of " + m.what; }
std::string ValueRule(const MapMeta& m) {
  return IsPerCpu(m.info.type) ? "roundup(valueSize, 8) * possibleCpus of " + m.what
                               : "valueSize of " + m.what;
}
std::string CountRule(const MapMeta& m, uint32_t count, const char* per) {
  return "count " + std::to_string(count) + " * " + per + " of " + m.what;
}

Napi::Buffer<uint8_t> CopyOut(Napi::Env env, const std::vector<uint8_t>& v, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, v.data(), n);
}

// Appends every entry to keys/values with BPF_MAP_LOOKUP_BATCH. Returns
// false, with nothing appended, when the kernel has no batch lookup for it.
bool DumpByBatch(Napi::Env env, const MapMeta& m, std::vector<uint8_t>& keys,
                 std::vector<uint8_t>& values, size_t& count) {
  // The batch token is opaque: a bucket index for hashes, a key for arrays.
  std::vector<uint8_t> inBatch(std::max<size_t>(m.keySize, 8));
  std::vector<uint8_t> outBatch(inBatch.size());
  bool first = true;
  uint32_t chunk = std::clamp<uint32_t>(m.info.max_entries, 1, kDumpChunk);
  bpf_map_batch_opts opts{};
  opts.sz = sizeof(opts);
  for (;;) {
    keys.resize((count + chunk) * m.keySize);
    values.resize((count + chunk) * m.valueSize);
    uint32_t n = chunk;
    int err = LibbpfErrno(bpf_map_lookup_batch(
        m.fd, first ? nullptr : inBatch.data(), outBatch.data(),
        keys.data() + count * m.keySize, values.data() + count * m.valueSize, &n, &opts));
    if (err && err != ENOENT && err != ENOSPC) {
      if (first && BatchUnsupported(err)) return false;
      ThrowErrno(env, "bpf_map_lookup_batch", m.what, err);
    }
    count += n;
    // ENOENT: that was the last part. ENOSPC: one hash bucket holds more
    // entries than `chunk`; retry the same position with room for it.
    if (err == ENOENT) return true;
    if (err == ENOSPC) {
      if (chunk >= kMaxChunk) ThrowErrno(env, "bpf_map_lookup_batch", m.what, err);
      chunk *= 2;
    }
    if (n > 0 || err == 0) {
      inBatch = outBatch;
      first = false;
    }
  }
}

// Appends every entry by get_next_key + lookup (maps without batch lookup).
void DumpByIteration(Napi::Env env, const MapMeta& m, std::vector<uint8_t>& keys,
                     std::vector<uint8_t>& values, size_t& count) {
  std::vector<uint8_t> key(m.keySize), next(m.keySize), value(m.valueSize);
  // A key deleted under us restarts some iterations (LPM_TRIE) from the top;
  // bound the walk so a busy map cannot keep us here forever.
  const uint64_t limit = 2 * static_cast<uint64_t>(m.info.max_entries) + 16;
  bool first = true;
  for (uint64_t steps = 0;; steps++) {
    if (steps > limit)
      ThrowErrno(env, "bpf_map_get_next_key", m.what, EAGAIN, "map changed during the dump");
    int err = LibbpfErrno(bpf_map_get_next_key(m.fd, first ? nullptr : key.data(), next.data()));
    if (err == ENOENT) return;
    if (err) ThrowErrno(env, "bpf_map_get_next_key", m.what, err);
    first = false;
    key.swap(next);
    err = LibbpfErrno(bpf_map_lookup_elem(m.fd, key.data(), value.data()));
    if (err == ENOENT) continue;  // deleted between the two calls
    if (err) ThrowErrno(env, "bpf_map_lookup_elem", m.what, err);
    keys.insert(keys.end(), key.begin(), key.end());
    values.insert(values.end(), value.begin(), value.end());
    count++;
  }
}

void UpdateOneByOne(Napi::Env env, const MapMeta& m, const Bytes& keys, const Bytes& values,
                    uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    int err = LibbpfErrno(bpf_map_update_elem(m.fd, keys.data + i * m.keySize,
                                              values.data + i * m.valueSize, BPF_ANY));
    if (err)
      ThrowErrno(env, "bpf_map_update_elem", m.what, err,
                 std::to_string(i) + " of " + std::to_string(count) + " entries written");
  }
}

}  // namespace

Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Args args(info, "mapInfo");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", m.info.type);
  out.Set("id", m.info.id);
  out.Set("keySize", m.info.key_size);
  out.Set("valueSize", m.info.value_size);
  out.Set("maxEntries", m.info.max_entries);
  out.Set("flags", m.info.map_flags);
  out.Set("name", std::string(m.info.name));
  return out;
}

Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Args args(info, "mapLookup");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Bytes key = args.Buf(1, "key");
  args.RequireSize("key", key, m.keySize, KeyRule(m));
  std::vector<uint8_t> value(m.valueSize);
  int err = LibbpfErrno(bpf_map_lookup_elem(m.fd, key.data, value.data()));
  if (err == ENOENT) return env.Null();
  if (err) ThrowErrno(env, "bpf_map_lookup_elem", m.what, err);
  return CopyOut(env, value, value.size());
}

Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  Args args(info, "mapUpdate");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Bytes key = args.Buf(1, "key");
  Bytes value = args.Buf(2, "value");
  uint64_t flags = args.Has(3) ? args.U64(3, "flags") : uint64_t{BPF_ANY};
  args.RequireSize("key", key, m.keySize, KeyRule(m));
  args.RequireSize("value", value, m.valueSize, ValueRule(m));
  int err = LibbpfErrno(bpf_map_update_elem(m.fd, key.data, value.data, flags));
  if (err) ThrowErrno(env, "bpf_map_update_elem", m.what, err);
  return env.Undefined();
}

Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Args args(info, "mapDelete");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Bytes key = args.Buf(1, "key");
  args.RequireSize("key", key, m.keySize, KeyRule(m));
  int err = LibbpfErrno(bpf_map_delete_elem(m.fd, key.data));
  if (err == ENOENT) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, "bpf_map_delete_elem", m.what, err);
  return Napi::Boolean::New(env, true);
}

Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  Args args(info, "mapUpdateBatch");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Bytes keys = args.Buf(1, "keys");
  Bytes values = args.Buf(2, "values");
  uint32_t count = args.U32(3, "count");
  args.RequireSize("keys", keys, count * m.keySize, CountRule(m, count, "keySize"));
  args.RequireSize("values", values, count * m.valueSize, CountRule(m, count, "value size"));
  if (count == 0) return env.Undefined();

  bpf_map_batch_opts opts{};
  opts.sz = sizeof(opts);
  opts.elem_flags = BPF_ANY;
  uint32_t n = count;
  int err = LibbpfErrno(bpf_map_update_batch(m.fd, keys.data, values.data, &n, &opts));
  if (err && BatchUnsupported(err) && n == count) {
    UpdateOneByOne(env, m, keys, values, count);
    return env.Undefined();
  }
  if (err)
    ThrowErrno(env, "bpf_map_update_batch", m.what, err,
               std::to_string(n) + " of " + std::to_string(count) + " entries written");
  return env.Undefined();
}

// Keys that are not in the map are skipped, as mapDelete returns false for
// them: the caller wants them gone and they are.
Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Args args(info, "mapDeleteBatch");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  Bytes keys = args.Buf(1, "keys");
  uint32_t count = args.U32(2, "count");
  args.RequireSize("keys", keys, count * m.keySize, CountRule(m, count, "keySize"));

  bpf_map_batch_opts opts{};
  opts.sz = sizeof(opts);
  uint32_t done = 0;
  while (done < count) {
    uint32_t n = count - done;
    const uint8_t* start = keys.data + done * m.keySize;
    int err = LibbpfErrno(bpf_map_delete_batch(m.fd, start, &n, &opts));
    if (err == 0) break;
    if (BatchUnsupported(err) && n == count - done) {
      // No batch delete for this map type: one element at a time.
      for (uint32_t i = done; i < count; i++) {
        int e = LibbpfErrno(bpf_map_delete_elem(m.fd, keys.data + i * m.keySize));
        if (e && e != ENOENT) ThrowErrno(env, "bpf_map_delete_elem", m.what, e);
      }
      break;
    }
    // The kernel stops at the first failing key, after deleting n keys.
    if (err != ENOENT || n >= count - done)
      ThrowErrno(env, "bpf_map_delete_batch", m.what, err,
                 "at key " + std::to_string(done + n) + " of " + std::to_string(count));
    done += n + 1;  // skip the missing key
  }
  return env.Undefined();
}

Napi::Value MapDump(const Napi::CallbackInfo& info) {
  Args args(info, "mapDump");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  std::vector<uint8_t> keys, values;
  size_t count = 0;
  if (!HasLookupBatch(m.info.type) || !DumpByBatch(env, m, keys, values, count)) {
    keys.clear();
    values.clear();
    count = 0;
    DumpByIteration(env, m, keys, values, count);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  out.Set("keys", CopyOut(env, keys, count * m.keySize));
  out.Set("values", CopyOut(env, values, count * m.valueSize));
  return out;
}

// Mappings handed to JS and not unmapped yet (data -> length): unmapped by
// mapUnmap, or when the ArrayBuffer is collected, whichever comes first.
// Only the JS thread touches it.
std::unordered_map<void*, size_t>& LiveMappings() {
  static std::unordered_map<void*, size_t> live;
  return live;
}

void Unmap(void* data) {
  auto& live = LiveMappings();
  auto it = live.find(data);
  if (it == live.end()) return;
  munmap(it->first, it->second);
  live.erase(it);
}

// The whole value area of a BPF_F_MMAPABLE array, read-only and shared with
// the kernel: the agent reads the flow table in place instead of copying it
// out with batch lookups (32 MiB took 180-420 ms that way).
Napi::Value MapMmap(const Napi::CallbackInfo& info) {
  Args args(info, "mapMmap");
  Napi::Env env = info.Env();
  MapMeta m = GetMapMeta(env, args.Fd(0, "fd"));
  if (m.info.type != BPF_MAP_TYPE_ARRAY || !(m.info.map_flags & BPF_F_MMAPABLE))
    ThrowType(env, "mapMmap: " + m.what + " is not a BPF_F_MMAPABLE array");
  size_t bytes = static_cast<size_t>(m.info.value_size) * m.info.max_entries;
  void* addr = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, m.fd, 0);
  if (addr == MAP_FAILED) ThrowErrno(env, "mmap", m.what, errno);
  LiveMappings()[addr] = bytes;
  return Napi::ArrayBuffer::New(env, addr, bytes, [](Napi::Env, void* data) { Unmap(data); });
}

// Unmap now (a scan is over: the pages leave this process's RSS) and detach
// the ArrayBuffer, so nothing can read through it afterwards.
Napi::Value MapUnmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) ThrowType(env, "mapUnmap: argument 'mapping' must be an ArrayBuffer from mapMmap");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return env.Undefined();
  void* data = ab.Data();
  if (LiveMappings().count(data) == 0) ThrowType(env, "mapUnmap: argument 'mapping' is not a live mapping from mapMmap");
  ab.Detach();
  Unmap(data);
  return env.Undefined();
}

}  // namespace vw
