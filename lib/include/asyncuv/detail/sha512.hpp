// asyncuv/detail/sha512.hpp — SHA-512 (FIPS 180-4), for random::seed(str).
//
// CPython's version-2 seeding turns a str/bytes seed into an integer through
// SHA-512, so reproducing its sequences needs the digest. It is small enough
// to write here rather than pull in a crypto library for one function; it is
// not meant for security use (no constant-time guarantees are needed here).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace asyncuv::detail {

using Sha512Digest = std::array<std::uint8_t, 64>;

Sha512Digest sha512(std::span<const std::uint8_t> message) noexcept;

}  // namespace asyncuv::detail
