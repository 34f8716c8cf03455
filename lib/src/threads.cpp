// threads.cpp — (being written)
#include "asyncuv/threads.hpp"
