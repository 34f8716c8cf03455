// asyncuv/detail/trace_hook.hpp — where the loop tells a trace what it does.
//
// Each hook point is one line: `if (TraceBuffer* b = trace_buffer) [[unlikely]]
// trace_xxx(*b, ...)`. With no trace recording on this thread that is one
// thread-local load and one predictable branch: no call, no allocation.
// The recording side (the buffer and the hooks' bodies) is lib/src/trace.cpp;
// the public API is asyncuv/trace.hpp.
#pragma once

#include "config.hpp"

namespace asyncuv::detail {

struct TaskCore;
struct TraceBuffer;

// The buffer recording on this thread, or null (the usual case).
// initial-exec: read on every step and suspension, like EventLoop::current_.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local TraceBuffer* trace_buffer;

ASYNCUV_API void trace_created(TraceBuffer& b, const TaskCore* t) noexcept;
ASYNCUV_API void trace_step(TraceBuffer& b, const TaskCore* t) noexcept;  // before a step: started or resumed
ASYNCUV_API void trace_suspended(TraceBuffer& b, const TaskCore* t, const char* on) noexcept;
ASYNCUV_API void trace_finished(TraceBuffer& b, const TaskCore* t) noexcept;   // done, failed, cancelled
ASYNCUV_API void trace_abandoned(TraceBuffer& b, const TaskCore* t) noexcept;  // loop closed, still pending
ASYNCUV_API void trace_callback(TraceBuffer& b) noexcept;
ASYNCUV_API void trace_timer(TraceBuffer& b, bool wakes_task) noexcept;

}  // namespace asyncuv::detail
