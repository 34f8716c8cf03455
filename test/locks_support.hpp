// What the lock, event, condition and semaphore suites share.
#pragma once

#include <string>

namespace locks_support {

// The message of the std::exception that f() throws ("" when none does).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace locks_support
