// asyncuv/random.hpp — Python's `random` module (CPython 3.11), bit for bit.
//
// A ported program that calls random.seed(42) and then randint/random/choice/
// shuffle must print exactly what the Python original prints, so this is not a
// "similar" generator: it is CPython's MT19937 with CPython's seeding
// (init_by_array over the 32-bit words of |seed|), its getrandbits, its
// rejection-sampling _randbelow and its 53-bit random().  Errors are thrown
// with CPython 3.11's messages: ValueError -> std::invalid_argument,
// IndexError -> std::out_of_range.
//
// Module-level functions (asyncuv::random::seed, randint, ...) use one
// generator per thread, seeded from the OS; `Random` objects are independent.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <type_traits>

namespace asyncuv::random {

// Sequences accepted by choice/shuffle: anything indexable in O(1) with a size,
// as Python's choice needs len() and seq[i] (vector, array, string, deque, C array).
template <class Seq>
concept Sequence = std::ranges::random_access_range<Seq> && std::ranges::sized_range<Seq>;

class ASYNCUV_API Random {
public:
  // Like random.Random(): seeded from the operating system's entropy source.
  Random() { seed(); }

  // Like random.Random(n).
  template <std::integral I>
  explicit Random(I n) { seed(n); }

  // Python's seed(n) uses all bits of abs(n); the magnitude is taken in
  // unsigned arithmetic so that INT64_MIN works (abs would overflow).
  template <std::integral I>
  void seed(I n) {
    static_assert(sizeof(I) <= sizeof(std::uint64_t), "seed: at most 64-bit integers");
    std::uint64_t mag = static_cast<std::uint64_t>(n);
    if constexpr (std::is_signed_v<I>) {
      if (n < 0) mag = std::uint64_t{0} - mag;  // |n|, exact even for the minimum
    }
    seed_magnitude(mag);
  }

  // Like seed() / seed(None): fresh entropy from the OS.
  void seed();

  // [0.0, 1.0) with 53 random bits, exactly CPython's random().
  double random();

  // k random bits, 0 <= k <= 64 (Python allows more; a uint64 cannot hold them).
  std::uint64_t getrandbits(int k);

  // Python's randrange(stop) and randrange(start, stop[, step]) over all of int64.
  std::int64_t randrange(std::int64_t stop);
  std::int64_t randrange(std::int64_t start, std::int64_t stop, std::int64_t step = 1);

  // [a, b] inclusive, i.e. randrange(a, b + 1) — even when b + 1 overflows int64.
  std::int64_t randint(std::int64_t a, std::int64_t b);

  // a + (b - a) * random(), rounded as Python rounds it.
  double uniform(double a, double b);

  // A copy of a random element; std::out_of_range if the sequence is empty.
  template <Sequence Seq>
  std::ranges::range_value_t<const Seq> choice(const Seq& seq) {
    return *(std::ranges::begin(seq) + index_into(std::ranges::size(seq)));
  }

  // choice({1, 2, 3}): a braced list cannot deduce `const Seq&`.
  template <class T>
  T choice(std::initializer_list<T> seq) {
    return seq.begin()[index_into(seq.size())];
  }

  // In-place shuffle with CPython's exact sequence of swaps (Fisher–Yates from
  // the back), so the same seed gives the same permutation as Python.
  template <Sequence Seq>
  void shuffle(Seq&& seq) {
    auto first = std::ranges::begin(seq);
    const auto n = static_cast<std::uint64_t>(std::ranges::size(seq));
    for (std::uint64_t i = n > 0 ? n - 1 : 0; i >= 1; --i) {
      const auto j = randbelow(i + 1);
      std::ranges::iter_swap(first + static_cast<std::ptrdiff_t>(i),
                             first + static_cast<std::ptrdiff_t>(j));
    }
  }

private:
  static constexpr std::size_t N = 624;  // MT19937 state words

  void seed_magnitude(std::uint64_t mag);
  void init_genrand(std::uint32_t s);
  void init_by_array(const std::uint32_t* key, std::size_t len);
  void twist();
  std::uint32_t next_u32();

  // CPython's _randbelow(n) for 1 <= n < 2^64 (rejection sampling on bit_length(n) bits).
  std::uint64_t randbelow(std::uint64_t n);
  // _randbelow(max + 1), also for max + 1 == 2^64 (randint over all of int64).
  std::uint64_t randbelow_inclusive(std::uint64_t max);
  // Index for choice(): Python raises IndexError on an empty sequence.
  std::ptrdiff_t index_into(std::uint64_t size);

  std::array<std::uint32_t, N> mt_{};
  std::size_t mti_ = N + 1;
};

namespace detail {
// The calling thread's generator behind the module-level functions.
ASYNCUV_API Random& thread_generator();
}  // namespace detail

// Module-level functions, like `random.seed(42)` etc.: one generator per thread.
template <std::integral I>
void seed(I n) { detail::thread_generator().seed(n); }
ASYNCUV_API void seed();
ASYNCUV_API double random();
ASYNCUV_API std::uint64_t getrandbits(int k);
ASYNCUV_API std::int64_t randrange(std::int64_t stop);
ASYNCUV_API std::int64_t randrange(std::int64_t start, std::int64_t stop, std::int64_t step = 1);
ASYNCUV_API std::int64_t randint(std::int64_t a, std::int64_t b);
ASYNCUV_API double uniform(double a, double b);

template <Sequence Seq>
std::ranges::range_value_t<const Seq> choice(const Seq& seq) {
  return detail::thread_generator().choice(seq);
}

template <class T>
T choice(std::initializer_list<T> seq) {
  return detail::thread_generator().choice(seq);
}

template <Sequence Seq>
void shuffle(Seq&& seq) { detail::thread_generator().shuffle(seq); }

}  // namespace asyncuv::random
