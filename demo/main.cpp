// main.cpp — the seed's "How to Execute an Async Program" program, ported line by line.
#include <asyncuv/asyncuv.hpp>

#include "demo.hpp"

// async def main():
//     print("Executing async program")
//     await asyncio.sleep(1)
//     print("Done")
//
// # Running the async program
// asyncio.run(main())

namespace demo::main_program {

asyncuv::Coro<> main() {
  print("Executing async program");
  co_await asyncuv::sleep(1 * time_scale);
  print("Done");
}

}  // namespace demo::main_program

void demo::run_main() { asyncuv::run(main_program::main()); }
