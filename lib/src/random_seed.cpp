// random_seed.cpp — seed() from floats, str/bytes and integers of any size,
// reduced to the 32-bit key words that CPython hands to init_by_array.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "asyncuv/detail/sha512.hpp"
#include "asyncuv/random.hpp"

namespace asyncuv::random {

namespace {

// Python's hash(float) (Python/pyhash.c, _Py_HashDouble): the value reduced
// modulo the Mersenne prime 2^61 - 1, sign applied, -1 mapped to -2.
constexpr int kHashBits = 61;
constexpr std::uint64_t kHashModulus = (std::uint64_t{1} << kHashBits) - 1;

std::int64_t python_hash(double v) {
  if (std::isinf(v)) return v > 0 ? 314159 : -314159;
  int e = 0;
  double m = std::frexp(v, &e);
  const bool negative = m < 0;
  if (negative) m = -m;
  // Feed the mantissa 28 bits at a time, rotating within 61 bits: a
  // rotation is multiplication by a power of two modulo 2^61 - 1.
  std::uint64_t x = 0;
  while (m != 0) {
    x = ((x << 28) & kHashModulus) | x >> (kHashBits - 28);
    m *= 268435456.0;  // 2^28
    e -= 28;
    const auto y = static_cast<std::uint64_t>(m);
    m -= static_cast<double>(y);
    x += y;
    if (x >= kHashModulus) x -= kHashModulus;
  }
  e = e >= 0 ? e % kHashBits : kHashBits - 1 - ((-1 - e) % kHashBits);
  x = ((x << e) & kHashModulus) | x >> (kHashBits - e);
  std::int64_t h = static_cast<std::int64_t>(x);
  if (negative) h = -h;
  return h == -1 ? -2 : h;
}

// words = words * factor + addend, on the little-endian magnitude.
void multiply_add(std::vector<std::uint32_t>& words, std::uint32_t factor, std::uint32_t addend) {
  std::uint64_t carry = addend;
  for (auto& w : words) {
    const std::uint64_t v = std::uint64_t{w} * factor + carry;
    w = static_cast<std::uint32_t>(v);
    carry = v >> 32;
  }
  if (carry != 0) words.push_back(static_cast<std::uint32_t>(carry));
}

// words /= divisor; returns the remainder.
std::uint32_t divide(std::vector<std::uint32_t>& words, std::uint32_t divisor) {
  std::uint64_t rest = 0;
  for (auto w = words.rbegin(); w != words.rend(); ++w) {
    const std::uint64_t v = (rest << 32) | *w;
    *w = static_cast<std::uint32_t>(v / divisor);
    rest = v % divisor;
  }
  while (!words.empty() && words.back() == 0) words.pop_back();
  return static_cast<std::uint32_t>(rest);
}

[[noreturn]] void throw_bad_literal(std::string_view text) {
  throw std::invalid_argument("invalid literal for int() with base 10: '" + std::string(text) + "'");
}

}  // namespace

std::string to_decimal(std::span<const std::uint32_t> words) {
  std::vector<std::uint32_t> rest(words.begin(), words.end());
  while (!rest.empty() && rest.back() == 0) rest.pop_back();
  if (rest.empty()) return "0";
  std::string digits;  // least significant first, 9 at a time
  while (!rest.empty()) {
    std::uint32_t chunk = divide(rest, 1000000000u);
    for (int i = 0; i < 9 && (chunk != 0 || !rest.empty()); ++i, chunk /= 10) {
      digits.push_back(static_cast<char>('0' + chunk % 10));
    }
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

void Random::seed(double x) {
  if (std::isnan(x)) return seed();  // Python hashes a NaN by identity: unreproducible
  const std::uint64_t h = static_cast<std::uint64_t>(python_hash(x));  // (size_t)hash, as CPython
  const std::uint32_t words[2] = {static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(h >> 32)};
  seed_words(words);
}

void Random::seed(std::span<const std::byte> bytes) {
  // int.from_bytes(bytes + sha512(bytes).digest()), big-endian: the last
  // byte is the least significant one.
  std::vector<std::uint8_t> all(bytes.size() + 64);
  if (!bytes.empty()) std::memcpy(all.data(), bytes.data(), bytes.size());
  const auto digest = ::asyncuv::detail::sha512(std::span<const std::uint8_t>(all.data(), bytes.size()));
  std::copy(digest.begin(), digest.end(), all.begin() + static_cast<std::ptrdiff_t>(bytes.size()));
  std::vector<std::uint32_t> words((all.size() + 3) / 4);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::size_t from_end = all.size() - 1 - i;
    words[from_end / 4] |= std::uint32_t{all[i]} << (8 * (from_end % 4));
  }
  seed_words(words);
}

void Random::seed(std::string_view str) { seed(std::as_bytes(std::span(str.data(), str.size()))); }

void Random::seed_decimal(std::string_view decimal) {
  std::string_view digits = decimal;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  if (digits.empty()) throw_bad_literal(decimal);
  std::vector<std::uint32_t> words;
  for (char c : digits) {
    if (c < '0' || c > '9') throw_bad_literal(decimal);
    multiply_add(words, 10, static_cast<std::uint32_t>(c - '0'));
  }
  seed_words(words);  // the sign is dropped: seed(n) uses abs(n)
}

void seed(double x) { detail::thread_generator().seed(x); }
void seed(std::string_view str) { detail::thread_generator().seed(str); }
void seed(std::span<const std::byte> bytes) { detail::thread_generator().seed(bytes); }
void seed_decimal(std::string_view decimal) { detail::thread_generator().seed_decimal(decimal); }

}  // namespace asyncuv::random
