// asyncuv/asyncuv.hpp — everything: Python's asyncio, in C++20, on libuv.
#pragma once

#include "coroutines.hpp"
#include "events.hpp"
#include "exceptions.hpp"
#include "gather.hpp"
#include "outcome.hpp"
#include "random.hpp"
#include "runners.hpp"
#include "sleep.hpp"
#include "tasks.hpp"
