// timeouts.cpp — (being written)
#include "asyncuv/timeouts.hpp"
