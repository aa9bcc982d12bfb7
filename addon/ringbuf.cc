// BPF ring buffer reader on the Node event loop.
//
// Choice (issue 5): no extra thread. A uv_poll watches the ring buffer map's
// fd (level-triggered epoll: readable while unread data is in the ring);
// when it fires, libbpf's ring_buffer__consume copies up to `maxPerWake`
// records into one Buffer and one JS callback gets them all. Consuming is a
// memcpy out of shared memory and never blocks; stopping after maxPerWake
// records hands the loop back to other work, and the poll fires again on the
// next loop turn because data is still there. So a flood costs the agent a
// bounded slice of each loop turn, and what the ring cannot hold is counted
// by the programs (flow_stats), not queued here.
//
// The programs submit without waking this reader unless the ring is a
// quarter full (a wake-up is an irq_work on the packet's CPU, microseconds
// on the packet path; bpf/lib/flow.h), so a uv_timer also drains the ring
// every `intervalMs` (VW_FLOW_EVENT_POLL_MS): that bounds how late an event
// can be, and the uv_poll still takes the wake-ups of a filling ring.
//
// Records reach JS as [u32 length (host order)][4 zero bytes][payload][zeros
// to a multiple of 8] each.
#include <bpf/libbpf.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "native.h"

namespace vw {

namespace {

constexpr uint32_t kDefaultMaxPerWake = 4096;
constexpr uint32_t kDefaultIntervalMs = 20;  // VW_FLOW_EVENT_POLL_MS
constexpr size_t kRecordAlign = 8;

struct Poller {
  uint32_t id = 0;
  napi_env env = nullptr;
  UniqueFd mapFd;
  ring_buffer* rb = nullptr;
  uv_poll_t* poll = nullptr;
  uv_timer_t* timer = nullptr;  // nullptr: intervalMs 0, wake-ups only
  int openHandles = 0;          // freed when the last one is closed
  Napi::FunctionReference callback;
  std::vector<uint8_t> batch;
  uint32_t count = 0;
  uint32_t maxPerWake = kDefaultMaxPerWake;
  bool closing = false;
};

std::map<uint32_t, Poller*> pollers;
uint32_t nextId = 1;

int OnSample(void* ctx, void* data, size_t len) {
  auto* p = static_cast<Poller*>(ctx);
  uint32_t len32 = static_cast<uint32_t>(len);
  size_t at = p->batch.size();
  size_t padded = (len + kRecordAlign - 1) / kRecordAlign * kRecordAlign;
  p->batch.resize(at + sizeof(len32) + padded + (kRecordAlign - sizeof(len32)), 0);
  std::memcpy(p->batch.data() + at, &len32, sizeof(len32));
  std::memcpy(p->batch.data() + at + kRecordAlign, data, len);
  // Returning < 0 stops this round; the record itself is consumed.
  return ++p->count >= p->maxPerWake ? -E2BIG : 0;
}

void FreeHandle(uv_handle_t* handle) {
  auto* p = static_cast<Poller*>(handle->data);
  if (handle->type == UV_TIMER) {
    delete reinterpret_cast<uv_timer_t*>(handle);
  } else {
    delete reinterpret_cast<uv_poll_t*>(handle);
  }
  if (--p->openHandles > 0) return;
  if (p->rb) ring_buffer__free(p->rb);
  delete p;
}

void ClosePoller(Poller* p) {
  if (p->closing) return;
  p->closing = true;
  pollers.erase(p->id);
  p->callback.Reset();
  uv_poll_stop(p->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(p->poll), FreeHandle);
  if (p->timer) {
    uv_timer_stop(p->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(p->timer), FreeHandle);
  }
}

void Drain(Poller* p, bool ok) {
  if (p->closing) return;
  p->batch.clear();
  p->count = 0;
  if (ok) ring_buffer__consume(p->rb);  // -E2BIG when capped: fine
  if (p->count == 0) return;

  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, p->batch.data(), p->batch.size());
  Napi::Number count = Napi::Number::New(env, p->count);
  try {
    // MakeCallback runs microtasks and reports a throw as uncaught: the
    // JS side catches its own errors, this is only the last line.
    p->callback.MakeCallback(env.Global(), {buf, count});
  } catch (const Napi::Error&) {
    // already reported by Node
  }
}

void OnPoll(uv_poll_t* handle, int status, int /*events*/) { Drain(static_cast<Poller*>(handle->data), status == 0); }

void OnTimer(uv_timer_t* handle) { Drain(static_cast<Poller*>(handle->data), true); }

}  // namespace

Napi::Value RingbufOpen(const Napi::CallbackInfo& info) {
  Args args(info, "ringbufOpen");
  Napi::Env env = info.Env();
  int fd = args.Fd(0, "mapFd");
  if (!info[1].IsFunction()) args.Fail("onRecords", "must be a function");
  uint32_t maxPerWake = args.Has(2) ? args.U32(2, "maxPerWake") : kDefaultMaxPerWake;
  if (maxPerWake == 0) args.Fail("maxPerWake", "must be at least 1");
  uint32_t intervalMs = args.Has(3) ? args.U32(3, "intervalMs") : kDefaultIntervalMs;
  RequireBpfFd(env, fd, BpfKind::kMap, "ring_buffer__new", "fd " + std::to_string(fd));

  auto* p = new Poller();
  p->env = env;
  p->maxPerWake = maxPerWake;
  p->mapFd.Reset(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (p->mapFd.Get() < 0) {
    int err = errno;
    delete p;
    ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", "map fd " + std::to_string(fd), err);
  }
  p->rb = ring_buffer__new(p->mapFd.Get(), OnSample, p, nullptr);
  if (!p->rb) {
    int err = errno;
    delete p;
    ThrowErrno(env, "ring_buffer__new", "map fd " + std::to_string(fd), err);
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ring_buffer__free(p->rb);
    delete p;
    throw Napi::Error::New(env, "ringbufOpen: no event loop");
  }
  p->poll = new uv_poll_t();
  p->poll->data = p;
  int rc = uv_poll_init(loop, p->poll, p->mapFd.Get());
  if (rc != 0) {
    delete p->poll;
    ring_buffer__free(p->rb);
    delete p;
    ThrowErrno(env, "uv_poll_init", "map fd " + std::to_string(fd), -rc);
  }
  p->openHandles = 1;
  if (intervalMs > 0) {
    p->timer = new uv_timer_t();
    p->timer->data = p;
    uv_timer_init(loop, p->timer);  // cannot fail
    p->openHandles++;
  }
  rc = uv_poll_start(p->poll, UV_READABLE, OnPoll);
  if (rc == 0 && p->timer) {
    rc = uv_timer_start(p->timer, OnTimer, intervalMs, intervalMs);
    // the uv_poll keeps the loop alive while open, as before; the timer does not
    if (rc == 0) uv_unref(reinterpret_cast<uv_handle_t*>(p->timer));
  }
  if (rc != 0) {
    ClosePoller(p);
    ThrowErrno(env, "uv_poll_start/uv_timer_start", "map fd " + std::to_string(fd), -rc);
  }
  p->callback = Napi::Persistent(info[1].As<Napi::Function>());
  p->id = nextId++;
  pollers[p->id] = p;
  return Napi::Number::New(env, p->id);
}

Napi::Value RingbufClose(const Napi::CallbackInfo& info) {
  Args args(info, "ringbufClose");
  uint32_t id = args.U32(0, "handle");
  auto it = pollers.find(id);
  if (it == pollers.end()) return Napi::Boolean::New(info.Env(), false);
  ClosePoller(it->second);
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace vw
