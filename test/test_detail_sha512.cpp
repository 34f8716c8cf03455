// detail/sha512.hpp: the SHA-512 that random's seeding from str and bytes
// uses (as CPython's does), against the FIPS 180-4 / NIST test vectors.
#include <asyncuv/detail/sha512.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace {

std::string sha512_hex(std::string_view text) {
  const auto digest = asyncuv::detail::sha512(
      std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : digest) (out += digits[b >> 4]) += digits[b & 15];
  return out;
}

}  // namespace

TEST_CASE("SHA-512 matches the FIPS 180-4 / NIST test vectors") {
  CHECK(sha512_hex("") ==
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  CHECK(sha512_hex("abc") ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(sha512_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu") ==
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  CHECK(sha512_hex(std::string(1000000, 'a')) ==
        "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
        "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}
