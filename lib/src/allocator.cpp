// allocator.cpp — per-thread size-class pools for coroutine frames.
#include "asyncuv/allocator.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>

// Sanitizers must see every frame: ASan for use-after-free, TSan for the
// happens-before of memory that a pool would hand from thread to thread.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ASYNCUV_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define ASYNCUV_POOL 0
#endif
#endif
#ifndef ASYNCUV_POOL
#define ASYNCUV_POOL 1
#endif

namespace asyncuv::detail {

namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t max_pooled = 1024;
constexpr std::size_t classes = max_pooled / granule;
constexpr std::size_t chunk_size = 64 * 1024;

struct FreeBlock {
  FreeBlock* next;
  FreeBlock* next_chain;  // shared pool only, in a chain's first block
};
static_assert(sizeof(FreeBlock) <= granule);

// Blocks of every class, shared: what exiting threads leave behind, and the
// list of chunks (kept reachable, so leak checkers see no leak). A thread
// hands over each free list whole, as one chain: exiting costs a step per
// size class, not per block (a million freed frames would be a million).
struct SharedPool {
  std::mutex mutex;
  std::array<FreeBlock*, classes> free{};
  void* chunks = nullptr;
};

SharedPool& shared() {
  static SharedPool* pool = new SharedPool;  // never destroyed: frames may outlive statics
  return *pool;
}

std::size_t class_of(std::size_t size) { return (size + granule - 1) / granule - 1; }

// Per-thread state is trivially destructible so that it stays usable after
// the thread's destructors ran (a Task handle in a static may free its frame
// then); the flusher below hands the free blocks over to the shared pool at
// thread exit and switches the thread to the shared pool.
struct LocalPool {
  std::array<FreeBlock*, classes> free{};
  char* cursor = nullptr;
  std::size_t left = 0;
  bool exited = false;
};
[[gnu::tls_model("initial-exec")]] thread_local LocalPool local;

void push(std::array<FreeBlock*, classes>& lists, std::size_t c, void* p) noexcept {
  auto* b = static_cast<FreeBlock*>(p);
  b->next = lists[c];
  lists[c] = b;
}

// Chains parked in the shared pool; lets refill() skip the lock when none.
std::atomic<std::size_t> shared_chains{0};

// Pushing and taking from the shared pool, both under s.mutex.
void push_chain(SharedPool& s, std::size_t c, FreeBlock* head) noexcept {
  head->next_chain = s.free[c];
  s.free[c] = head;
  shared_chains.fetch_add(1, std::memory_order_relaxed);
}

FreeBlock* pop_shared(SharedPool& s, std::size_t c) noexcept {
  FreeBlock* b = s.free[c];
  if (!b) return nullptr;
  if (FreeBlock* rest = b->next) {
    rest->next_chain = b->next_chain;
    s.free[c] = rest;
  } else {
    s.free[c] = b->next_chain;
    shared_chains.fetch_sub(1, std::memory_order_relaxed);
  }
  return b;
}

struct Flusher {
  bool armed = false;
  ~Flusher() {
    SharedPool& s = shared();
    std::lock_guard lock(s.mutex);
    for (std::size_t c = 0; c < classes; ++c) {
      if (FreeBlock* head = std::exchange(local.free[c], nullptr)) push_chain(s, c, head);
    }
    local.exited = true;
  }
};
thread_local Flusher flusher;

// A new chunk; the tail of the previous one (less than a block) is dropped.
char* new_chunk(SharedPool& s) {
  void* chunk = std::malloc(chunk_size);
  if (!chunk) throw std::bad_alloc();
  *static_cast<void**>(chunk) = s.chunks;  // the first granule links the chunks
  s.chunks = chunk;
  return static_cast<char*>(chunk) + granule;
}

void* refill(std::size_t c) {
  const std::size_t block = (c + 1) * granule;
  SharedPool& s = shared();
  if (shared_chains.load(std::memory_order_relaxed) != 0 || local.exited) {
    std::lock_guard lock(s.mutex);
    if (FreeBlock* b = pop_shared(s, c)) return b;  // what exited threads left behind
    if (local.exited) return ::operator new(block);  // rare: a frame made during thread teardown
  }
  flusher.armed = true;  // odr-use, so that this thread's flusher exists
  if (block > local.left) {
    std::lock_guard lock(s.mutex);
    local.cursor = new_chunk(s);
    local.left = chunk_size - granule;
  }
  void* p = local.cursor;
  local.cursor += block;
  local.left -= block;
  return p;
}

}  // namespace

void* allocate_frame(std::size_t size) {
  if (!ASYNCUV_POOL || size > max_pooled) return ::operator new(size);
  const std::size_t c = class_of(size);
  if (FreeBlock* b = local.free[c]) {
    local.free[c] = b->next;
    return b;
  }
  const std::size_t block = (c + 1) * granule;
  if (block <= local.left && shared_chains.load(std::memory_order_relaxed) == 0) {  // carve
    void* p = local.cursor;
    local.cursor += block;
    local.left -= block;
    return p;
  }
  return refill(c);
}

void deallocate_frame(void* p, std::size_t size) noexcept {
  if (!ASYNCUV_POOL || size > max_pooled) return ::operator delete(p);
  const std::size_t c = class_of(size);
  if (!local.exited) return push(local.free, c, p);
  SharedPool& s = shared();
  std::lock_guard lock(s.mutex);
  auto* b = static_cast<FreeBlock*>(p);
  b->next = nullptr;
  push_chain(s, c, b);
}

}  // namespace asyncuv::detail
