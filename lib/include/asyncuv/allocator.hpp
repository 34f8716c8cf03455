// asyncuv/allocator.hpp — where coroutine frames come from.
//
// A task's memory is mostly its coroutine frame, and on a fresh process every
// new byte costs a page fault, so frames come from per-thread free lists of
// 16-byte size classes carved from 64 KiB chunks: no malloc header, no
// rounding beyond 16 bytes, and a freed frame is reused by the next frame of
// its size at the cost of a pointer pop. Chunks are kept for the life of the
// process (like CPython's small-object arenas); a thread's free blocks go to a
// shared pool when it exits. Under AddressSanitizer the pool is bypassed so
// that the sanitizer still sees every frame.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstddef>

namespace asyncuv::detail {

ASYNCUV_API void* allocate_frame(std::size_t size);
ASYNCUV_API void deallocate_frame(void* p, std::size_t size) noexcept;

}  // namespace asyncuv::detail
