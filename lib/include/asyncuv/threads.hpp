// asyncuv/threads.hpp — (being written)
#pragma once
