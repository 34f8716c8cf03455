// What several test files share: doctest printing for the event logs the
// tests compare, and the names they use.
#pragma once

#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <string>
#include <vector>

// A test's record of what happened, in order.
using Log = std::vector<std::string>;

// Lets doctest print a Log when a comparison fails.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string s = "{";
    for (const auto& x : v) s += (s.size() > 1 ? ", \"" : "\"") + x + "\"";
    return (s + "}").c_str();
  }
};
}  // namespace doctest
