// random_sleep.cpp — the seed's "How to Use the Random Module" program, ported line by line.
#include <asyncuv/asyncuv.hpp>

#include <string>

#include "demo.hpp"

// import asyncio
// import random
//
// async def random_sleep():
//     sleep_time = random.randint(1, 5)
//     await asyncio.sleep(sleep_time)
//     print(f"Slept for {sleep_time} seconds")
//
// async def main():
//     await random_sleep()
//
// # Using the random module in async functions
// asyncio.run(main())

namespace demo::random_sleep_program {

asyncuv::Coro<> random_sleep() {
  auto sleep_time = asyncuv::random::randint(1, 5);
  co_await asyncuv::sleep(static_cast<double>(sleep_time) * time_scale);
  print("Slept for " + std::to_string(sleep_time) + " seconds");
}

asyncuv::Coro<> main() {
  co_await random_sleep();
}

}  // namespace demo::random_sleep_program

void demo::run_random_sleep() { asyncuv::run(random_sleep_program::main()); }
