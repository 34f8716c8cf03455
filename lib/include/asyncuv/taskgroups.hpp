// asyncuv/taskgroups.hpp — (being written)
#pragma once
