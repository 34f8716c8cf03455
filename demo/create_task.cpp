// create_task.cpp — the seed's "How to Create asyncio Tasks" program, ported line by line.
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
//     task1_obj = asyncio.create_task(task1())
//     task2_obj = asyncio.create_task(task2())
//     await task1_obj
//     await task2_obj
//
// # Creating and running asyncio tasks
// asyncio.run(main())

namespace demo::create_task_program {

asyncuv::Coro<> task1() {
  co_await asyncuv::sleep(1 * time_scale);
  print("Task 1 completed");
}

asyncuv::Coro<> task2() {
  co_await asyncuv::sleep(2 * time_scale);
  print("Task 2 completed");
}

asyncuv::Coro<> main() {
  asyncuv::Task<> task1_obj = asyncuv::create_task(task1());
  asyncuv::Task<> task2_obj = asyncuv::create_task(task2());
  co_await task1_obj;
  co_await task2_obj;
}

}  // namespace demo::create_task_program

void demo::run_create_task() { asyncuv::run(create_task_program::main()); }
