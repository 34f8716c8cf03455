// asyncuv/queues.hpp — (being written)
#pragma once
