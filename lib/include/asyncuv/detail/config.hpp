// asyncuv/detail/config.hpp — included first by every public header.
//
// asyncuv is built on C++20 coroutines and concepts. Compiled as C++17, a
// consumer would get pages of errors about unknown keywords and concepts;
// one line saying what is needed serves them better. __cpp_impl_coroutine is
// the compiler's own coroutine support (absent with -std=c++17, and g++'s
// -fcoroutines on C++17 still lacks the rest of C++20, hence both tests).
#pragma once

#if __cplusplus < 202002L || !defined(__cpp_impl_coroutine)
#error "asyncuv requires C++20 coroutines (-std=c++20)"
// #error lets the compiler go on into the headers and report hundreds of
// follow-on errors; a missing include is fatal in g++ and clang alike.
#include "asyncuv: compilation stopped at the #error above"
#endif

// ASYNCUV_API marks what the shared library must export. The library is
// built with default visibility for now: the header templates call into
// nearly every library class, so hidden visibility hid 1 symbol of 299 and
// made every new class a link error waiting to happen.
#if defined(__GNUC__)
#define ASYNCUV_API __attribute__((visibility("default")))
#else
#define ASYNCUV_API
#endif
