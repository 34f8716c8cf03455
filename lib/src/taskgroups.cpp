// taskgroups.cpp — (being written)
#include "asyncuv/taskgroups.hpp"
