// subprocesses.cpp — the asyncio documentation's subprocess example
// ("Running shell commands"), ported line by line (Python in comments):
// three shell commands run concurrently, each printed as it completes.
#include <asyncuv/asyncuv.hpp>

#include <cstdio>

#include "demo.hpp"

namespace demo::subprocess_programs {

using namespace asyncuv;

// Python's f'{x:g}' (C's %g gives the same digits).
std::string g(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// async def run(cmd):
//     proc = await asyncio.create_subprocess_shell(
//         cmd,
//         stdout=asyncio.subprocess.PIPE,
//         stderr=asyncio.subprocess.PIPE)
//
//     stdout, stderr = await proc.communicate()
//
//     print(f'[{cmd!r} exited with {proc.returncode}]')
//     if stdout:
//         print(f'[stdout]\n{stdout.decode()}')
//     if stderr:
//         print(f'[stderr]\n{stderr.decode()}')
Coro<> run(std::string cmd) {
  auto proc = co_await create_subprocess_shell(
      cmd,
      Popen{.std_out = PIPE,
            .std_err = PIPE});

  auto [out, err] = co_await proc.communicate();  // (stdout, stderr are C macros)

  print("[" + py_repr(cmd) + " exited with " + std::to_string(*proc.returncode()) + "]");
  if (!out->empty())
    print("[stdout]\n" + *out);
  if (!err->empty())
    print("[stderr]\n" + *err);
}

// async def main():
//     await asyncio.gather(
//         run(f'sleep {0.3 * SCALE:g}; echo c'),
//         run(f'sleep {0.1 * SCALE:g}; echo a'),
//         run(f'sleep {0.2 * SCALE:g}; echo b; echo oops >&2; exit 1'))
//
// asyncio.run(main())
Coro<> main() {
  co_await gather(
      run("sleep " + g(0.3 * time_scale) + "; echo c"),
      run("sleep " + g(0.1 * time_scale) + "; echo a"),
      run("sleep " + g(0.2 * time_scale) + "; echo b; echo oops >&2; exit 1"));
}

}  // namespace demo::subprocess_programs

void demo::run_subprocesses() { asyncuv::run(subprocess_programs::main()); }
