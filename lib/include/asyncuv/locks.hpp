// asyncuv/locks.hpp — (being written)
#pragma once
