// (being written)
#include <doctest/doctest.h>
#include <asyncuv/asyncuv.hpp>
