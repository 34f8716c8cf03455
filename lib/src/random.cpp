// random.cpp — CPython 3.11's Mersenne Twister, its seeding by words, state,
// getrandbits and the integer functions of Lib/random.py.  Seeding from
// floats/str/bytes is in random_seed.cpp, sample/choices in random_sample.cpp,
// the real-valued distributions in random_variates.cpp.  Every step (seeding, word order, rejection
// loop, error checks) follows CPython's so that sequences match bit for bit.
#include "asyncuv/random.hpp"

#include <bit>
#include <limits>
#include <random>
#include <string>

namespace asyncuv::random {

namespace {

constexpr std::uint32_t kUpperMask = 0x80000000u;
constexpr std::uint32_t kLowerMask = 0x7fffffffu;
constexpr std::uint32_t kMatrixA = 0x9908b0dfu;
constexpr std::size_t kShift = 397;  // MT19937's "M"

std::uint64_t as_unsigned(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// Conversion back is modular in C++20; callers only use it when the true
// (mathematical) result is known to fit in int64.
std::int64_t as_signed(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// Python formats the range width as an unbounded int, which may lie outside
// int64 (e.g. -18446744073709551615), so it is printed from sign + magnitude.
std::string signed_str(bool negative, std::uint64_t magnitude) {
  std::string digits = std::to_string(magnitude);
  return negative && magnitude != 0 ? "-" + digits : digits;
}

[[noreturn]] void throw_empty_range() {
  throw std::invalid_argument("empty range for randrange()");
}

// The message of randrange(start, stop) with step 1, width = stop - start <= 0.
[[noreturn]] void throw_empty_range(std::int64_t start, std::int64_t stop) {
  const std::uint64_t width_magnitude = as_unsigned(start) - as_unsigned(stop);
  throw std::invalid_argument("empty range for randrange() (" + std::to_string(start) + ", " +
                              std::to_string(stop) + ", " + signed_str(true, width_magnitude) +
                              ")");
}

}  // namespace

void Random::seed_words(std::span<const std::uint32_t> magnitude) {
  // CPython keys init_by_array with abs(n)'s 32-bit words, least significant
  // first, as many as the number has bits (but at least one, so 0 -> [0]).
  std::size_t used = magnitude.size();
  while (used > 1 && magnitude[used - 1] == 0) --used;
  const std::uint32_t zero = 0;
  if (used == 0) init_by_array(&zero, 1);
  else init_by_array(magnitude.data(), used);
  gauss_next_.reset();  // random.py's seed() forgets gauss()'s pending value
}

void Random::seed() {
  // CPython's seed(None) feeds N words of OS entropy through init_by_array.
  std::random_device dev;
  std::array<std::uint32_t, N> key{};
  for (auto& word : key) word = static_cast<std::uint32_t>(dev());
  init_by_array(key.data(), key.size());
  gauss_next_.reset();
}

State Random::getstate() const {
  State state;
  state.mt = mt_;
  state.index = static_cast<std::uint32_t>(mti_);
  state.gauss_next = gauss_next_;
  return state;
}

void Random::setstate(const State& state) {
  if (state.index > N) throw std::invalid_argument("invalid state");
  mt_ = state.mt;
  mti_ = state.index;
  gauss_next_ = state.gauss_next;
}

void Random::init_genrand(std::uint32_t s) {
  // Knuth's linear recurrence; uint32_t arithmetic wraps mod 2^32 as MT expects.
  mt_[0] = s;
  for (std::size_t i = 1; i < N; ++i) {
    const std::uint32_t prev = mt_[i - 1];
    mt_[i] = 1812433253u * (prev ^ (prev >> 30)) + static_cast<std::uint32_t>(i);
  }
  mti_ = N;
}

void Random::init_by_array(const std::uint32_t* key, std::size_t len) {
  init_genrand(19650218u);
  std::size_t i = 1;
  std::size_t j = 0;
  // Each step advances i cyclically over 1..N-1, copying the last word to mt[0]
  // whenever it wraps (the reference algorithm's quirk that CPython keeps).
  auto advance = [&] {
    if (++i >= N) {
      mt_[0] = mt_[N - 1];
      i = 1;
    }
  };
  for (std::size_t k = (N > len ? N : len); k > 0; --k) {
    const std::uint32_t prev = mt_[i - 1];
    mt_[i] = (mt_[i] ^ ((prev ^ (prev >> 30)) * 1664525u)) + key[j] +
             static_cast<std::uint32_t>(j);
    advance();
    if (++j >= len) j = 0;
  }
  for (std::size_t k = N - 1; k > 0; --k) {
    const std::uint32_t prev = mt_[i - 1];
    mt_[i] = (mt_[i] ^ ((prev ^ (prev >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
    advance();
  }
  mt_[0] = 0x80000000u;  // guarantees a non-zero state
}

void Random::twist() {
  // Regenerates all N words at once; the partner of word i is word i + 397 (mod N).
  for (std::size_t i = 0; i < N; ++i) {
    const std::uint32_t y = (mt_[i] & kUpperMask) | (mt_[(i + 1) % N] & kLowerMask);
    mt_[i] = mt_[(i + kShift) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? kMatrixA : 0u);
  }
  mti_ = 0;
}

std::uint32_t Random::next_u32() {
  if (mti_ >= N) twist();  // always seeded by a constructor, so never "unseeded"
  std::uint32_t y = mt_[mti_++];
  // Tempering: spreads the state bits so every output bit is well distributed.
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

double Random::random() {
  // 27 + 26 = 53 bits, the full precision of a double; every step is exact.
  const std::uint32_t a = next_u32() >> 5;
  const std::uint32_t b = next_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::uint64_t Random::getrandbits(int k) {
  if (k < 0) throw std::invalid_argument("number of bits must be non-negative");
  if (k > 64) throw std::invalid_argument("getrandbits() supports at most 64 bits; use getrandbits_words");
  if (k == 0) return 0;  // 3.9+ consumes no state for k == 0
  // One word for k <= 32, its top k bits; otherwise words fill from the least
  // significant end and the last word keeps only its top (k - 32) bits.
  if (k <= 32) return next_u32() >> (32 - k);
  const std::uint64_t low = next_u32();
  const std::uint64_t high = next_u32() >> (64 - k);
  return low | (high << 32);
}

std::vector<std::uint32_t> Random::getrandbits_words(int k) {
  if (k < 0) throw std::invalid_argument("number of bits must be non-negative");
  // As CPython: whole words from the least significant end; the most
  // significant keeps the top bits of its draw when k is not a multiple of 32.
  std::vector<std::uint32_t> words(static_cast<std::size_t>(k / 32 + (k % 32 != 0)));
  for (std::size_t i = 0; i < words.size(); ++i) {
    const int left = k - static_cast<int>(32 * i);
    const std::uint32_t r = next_u32();
    words[i] = left < 32 ? r >> (32 - left) : r;
  }
  return words;
}

std::vector<std::byte> Random::randbytes(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max() / 8)) {
    throw std::overflow_error("Python int too large to convert to C int");  // CPython's k is a C int
  }
  const auto words = getrandbits_words(static_cast<int>(8 * n));
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>(words[i / 4] >> (8 * (i % 4)));
  return bytes;
}

std::uint64_t Random::randbelow(std::uint64_t n) {
  // Python 3.11 draws bit_length(n) bits (not of n - 1), retrying until < n.
  const int k = std::bit_width(n);
  std::uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

std::uint64_t Random::randbelow_inclusive(std::uint64_t max) {
  if (max != std::numeric_limits<std::uint64_t>::max()) return randbelow(max + 1);
  // n == 2^64: Python draws getrandbits(65) = three words, the last shifted
  // right by 31; the draw is < 2^64 exactly when that last bit is zero.
  for (;;) {
    const std::uint64_t low = next_u32();
    const std::uint64_t high = next_u32();
    if ((next_u32() >> 31) == 0) return low | (high << 32);
  }
}

std::uint64_t Random::index_into(std::uint64_t size) {
  if (size == 0) throw std::out_of_range("Cannot choose from an empty sequence");
  return randbelow(size);
}

std::int64_t Random::randrange(std::int64_t stop) {
  if (stop > 0) return as_signed(randbelow(as_unsigned(stop)));
  throw_empty_range();
}

std::int64_t Random::randrange(std::int64_t start, std::int64_t stop, std::int64_t step) {
  // Widths and counts can reach 2^64 - 1, so they are computed in uint64 from
  // the known sign; start + step * i is then exact modulo 2^64.
  if (step == 1) {
    if (stop <= start) throw_empty_range(start, stop);
    return as_signed(as_unsigned(start) + randbelow(as_unsigned(stop) - as_unsigned(start)));
  }
  if (step == 0) throw std::invalid_argument("zero step for randrange()");
  const bool up = step > 0;
  if (up ? stop <= start : stop >= start) throw_empty_range();
  const std::uint64_t width = up ? as_unsigned(stop) - as_unsigned(start)
                                 : as_unsigned(start) - as_unsigned(stop);
  const std::uint64_t stride = up ? as_unsigned(step) : std::uint64_t{0} - as_unsigned(step);
  const std::uint64_t n = (width - 1) / stride + 1;  // ceil(width / |step|) without overflow
  return as_signed(as_unsigned(start) + as_unsigned(step) * randbelow(n));
}

std::int64_t Random::randint(std::int64_t a, std::int64_t b) {
  // randrange(a, b + 1) without computing b + 1, which overflows for INT64_MAX.
  if (a > b) throw_empty_range(a, b + 1);  // here b < INT64_MAX, so b + 1 is fine
  return as_signed(as_unsigned(a) + randbelow_inclusive(as_unsigned(b) - as_unsigned(a)));
}

namespace detail {
Random& thread_generator() {
  thread_local Random generator;  // OS-seeded on first use in each thread
  return generator;
}
}  // namespace detail

void seed() { detail::thread_generator().seed(); }
void seed_words(std::span<const std::uint32_t> magnitude) { detail::thread_generator().seed_words(magnitude); }
State getstate() { return detail::thread_generator().getstate(); }
void setstate(const State& state) { detail::thread_generator().setstate(state); }
double random() { return detail::thread_generator().random(); }
std::uint64_t getrandbits(int k) { return detail::thread_generator().getrandbits(k); }
std::vector<std::uint32_t> getrandbits_words(int k) { return detail::thread_generator().getrandbits_words(k); }
std::vector<std::byte> randbytes(std::size_t n) { return detail::thread_generator().randbytes(n); }
std::int64_t randrange(std::int64_t stop) { return detail::thread_generator().randrange(stop); }
std::int64_t randrange(std::int64_t start, std::int64_t stop, std::int64_t step) {
  return detail::thread_generator().randrange(start, stop, step);
}
std::int64_t randint(std::int64_t a, std::int64_t b) {
  return detail::thread_generator().randint(a, b);
}

}  // namespace asyncuv::random
