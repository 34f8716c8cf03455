// What the queue suites share.
#pragma once

#include <asyncuv/asyncuv.hpp>

namespace queues_support {

// Python's create_task(q.get()).
template <class Q>
asyncuv::Coro<typename Q::value_type> get_of(Q& q) {
  co_return co_await q.get();
}

}  // namespace queues_support
