// wait.cpp — (being written)
#include "asyncuv/wait.hpp"
