// asyncuv/timeouts.hpp — (being written)
#pragma once
