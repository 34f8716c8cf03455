// say_hello.cpp — the seed's "Async and Await Syntax" program, ported line by line.
#include <asyncuv/asyncuv.hpp>

#include "demo.hpp"

// import asyncio
//
// async def say_hello():
//     print("Hello")
//     await asyncio.sleep(1)
//     print("World")
//
// # Running the async function
// asyncio.run(say_hello())

namespace demo::say_hello_program {

asyncuv::Coro<> say_hello() {
  print("Hello");
  co_await asyncuv::sleep(1 * time_scale);
  print("World");
}

}  // namespace demo::say_hello_program

void demo::run_say_hello() { asyncuv::run(say_hello_program::say_hello()); }
