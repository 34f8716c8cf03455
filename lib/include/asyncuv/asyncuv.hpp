// asyncuv/asyncuv.hpp — everything: Python's asyncio, in C++20, on libuv.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include "coroutines.hpp"
#include "datagrams.hpp"
#include "dns.hpp"
#include "events.hpp"
#include "exceptions.hpp"
#include "futures.hpp"
#include "gather.hpp"
#include "locks.hpp"
#include "outcome.hpp"
#include "pipes.hpp"
#include "queues.hpp"
#include "random.hpp"
#include "runners.hpp"
#include "sleep.hpp"
#include "streams.hpp"
#include "subprocess.hpp"
#include "taskgroups.hpp"
#include "tasks.hpp"
#include "threads.hpp"
#include "timeouts.hpp"
#include "trace.hpp"
#include "wait.hpp"
