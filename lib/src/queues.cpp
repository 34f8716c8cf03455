// queues.cpp — (being written)
#include "asyncuv/queues.hpp"
