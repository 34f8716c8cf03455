// gather.cpp — the seed's "How to Run Concurrent Coroutines" program, ported line by line.
#include <asyncuv/asyncuv.hpp>

#include "demo.hpp"

// async def task1():
//     await asyncio.sleep(1)
//     print("Task 1 completed")
//
// async def task2():
//     await asyncio.sleep(2)
//     print("Task 2 completed")
//
// async def main():
//     await asyncio.gather(task1(), task2())
//
// # Running the concurrent coroutines
// asyncio.run(main())

namespace demo::gather_program {

asyncuv::Coro<> task1() {
  co_await asyncuv::sleep(1 * time_scale);
  print("Task 1 completed");
}

asyncuv::Coro<> task2() {
  co_await asyncuv::sleep(2 * time_scale);
  print("Task 2 completed");
}

asyncuv::Coro<> main() {
  co_await asyncuv::gather(task1(), task2());
}

}  // namespace demo::gather_program

void demo::run_gather() { asyncuv::run(gather_program::main()); }
