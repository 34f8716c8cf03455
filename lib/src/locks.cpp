// locks.cpp — (being written)
#include "asyncuv/locks.hpp"
