// asyncuv/wait.hpp — (being written)
#pragma once
