// asyncuv/random.hpp — Python's `random` module (CPython 3.11), bit for bit.
//
// A ported program that calls random.seed(42) and then randint/random/choice/
// shuffle/gauss/... must print exactly what the Python original prints, so
// this is not a "similar" generator: it is CPython's MT19937 with CPython's
// seeding (init_by_array over the 32-bit words of |seed|; str/bytes through
// SHA-512; floats through Python's hash()), and Lib/random.py's algorithms
// with the same libm calls in the same order. Python's exceptions map to:
//   ValueError, TypeError -> std::invalid_argument   IndexError -> std::out_of_range
//   ZeroDivisionError -> std::domain_error           OverflowError -> std::overflow_error
// with CPython 3.11's messages.
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
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace asyncuv::random {

// Sequences accepted by choice/shuffle/sample/choices: anything indexable in
// O(1) with a size, as Python needs len() and seq[i] (vector, array, string,
// deque, C array, span).
template <class Seq>
concept Sequence = std::ranges::random_access_range<Seq> && std::ranges::sized_range<Seq>;

// Random.getstate(): the 624 MT words, the position in them, and the second
// normal deviate that gauss() keeps for its next call.
struct State {
  std::array<std::uint32_t, 624> mt{};
  std::uint32_t index = 624;  // 0..624; 624 means "twist before the next word"
  std::optional<double> gauss_next{};
  bool operator==(const State&) const = default;
};

// choices()'s keyword arguments: choices(pop, {.weights = w, .k = 10}). The
// spans only need to outlive the call (a temporary vector in it is fine).
struct ChoicesOptions {
  std::optional<std::span<const double>> weights{};
  std::optional<std::span<const double>> cum_weights{};
  std::size_t k = 1;
};

// A non-negative integer of any size as 32-bit words, least significant first
// (what getrandbits_words returns and seed_words takes), printed in decimal.
std::string to_decimal(std::span<const std::uint32_t> words);

class Random {
public:
  // Like random.Random(): seeded from the operating system's entropy source.
  Random() { seed(); }
  // Like random.Random(x) for an int, float, str or bytes x.
  template <std::integral I>
  explicit Random(I n) { seed(n); }
  explicit Random(double x) { seed(x); }
  explicit Random(std::string_view str) { seed(str); }
  explicit Random(std::span<const std::byte> bytes) { seed(bytes); }

  // Python's seed(n) uses all bits of abs(n); the magnitude is taken in
  // unsigned arithmetic so that INT64_MIN works (abs would overflow).
  template <std::integral I>
  void seed(I n) {
    static_assert(sizeof(I) <= sizeof(std::uint64_t), "seed: at most 64-bit integers; see seed_words");
    std::uint64_t mag = static_cast<std::uint64_t>(n);
    if constexpr (std::is_signed_v<I>) {
      if (n < 0) mag = std::uint64_t{0} - mag;  // |n|, exact even for the minimum
    }
    const std::uint32_t words[2] = {static_cast<std::uint32_t>(mag), static_cast<std::uint32_t>(mag >> 32)};
    seed_words(words);
  }
  // seed(1.5): CPython seeds with hash(x) as an unsigned 64-bit number, so
  // seed(2.0) != seed(2) and seed(-1.5) != seed(1.5). hash(nan) depends on the
  // object's address in Python, so a NaN seed draws from the OS here.
  void seed(double x);
  // seed("text") / seed(bytes): version 2, int.from_bytes(s + sha512(s)). A
  // std::string holds the UTF-8 that Python's str.encode() would produce.
  void seed(std::string_view str);
  void seed(std::span<const std::byte> bytes);
  // seed(n) for an int of any size: |n| as 32-bit words, least significant first.
  void seed_words(std::span<const std::uint32_t> magnitude);
  // seed(int("...")): a decimal integer of any size, with an optional sign.
  void seed_decimal(std::string_view decimal);
  // Like seed() / seed(None): fresh entropy from the OS.
  void seed();

  State getstate() const;
  // std::invalid_argument("invalid state") if index > 624, as CPython.
  void setstate(const State& state);

  // [0.0, 1.0) with 53 random bits, exactly CPython's random().
  double random();
  // k random bits, 0 <= k <= 64: the fast path (Python allows more, see below).
  std::uint64_t getrandbits(int k);
  // getrandbits(k) for any k >= 0 as ceil(k / 32) words, least significant first.
  std::vector<std::uint32_t> getrandbits_words(int k);
  // n random bytes, randbytes(n) == getrandbits(8 * n).to_bytes(n, 'little').
  std::vector<std::byte> randbytes(std::size_t n);

  // Python's randrange(stop) and randrange(start, stop[, step]) over all of int64.
  std::int64_t randrange(std::int64_t stop);
  std::int64_t randrange(std::int64_t start, std::int64_t stop, std::int64_t step = 1);
  // [a, b] inclusive, i.e. randrange(a, b + 1) — even when b + 1 overflows int64.
  std::int64_t randint(std::int64_t a, std::int64_t b);

  // The real-valued distributions, each Lib/random.py's formula evaluated in
  // the same order with the same roundings.
  double uniform(double a, double b);
  double triangular(double low = 0.0, double high = 1.0, std::optional<double> mode = std::nullopt);
  double normalvariate(double mu = 0.0, double sigma = 1.0);
  double gauss(double mu = 0.0, double sigma = 1.0);
  double lognormvariate(double mu, double sigma);
  double expovariate(double lambd);
  double vonmisesvariate(double mu, double kappa);
  double gammavariate(double alpha, double beta);
  double betavariate(double alpha, double beta);
  double paretovariate(double alpha);
  double weibullvariate(double alpha, double beta);

  // A copy of a random element; std::out_of_range if the sequence is empty.
  template <Sequence Seq>
  std::ranges::range_value_t<const Seq> choice(const Seq& seq) {
    return at(seq, index_into(std::ranges::size(seq)));
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
      std::ranges::iter_swap(first + static_cast<std::ptrdiff_t>(i), first + static_cast<std::ptrdiff_t>(j));
    }
  }

  // sample(population, k): k distinct positions, in selection order.
  template <Sequence Seq>
  std::vector<std::ranges::range_value_t<const Seq>> sample(const Seq& population, std::int64_t k) {
    return pick(population, sample_indices(std::ranges::size(population), k));
  }
  // sample(population, k, counts=counts): population[i] repeated counts[i] times.
  template <Sequence Seq>
  std::vector<std::ranges::range_value_t<const Seq>> sample(const Seq& population, std::int64_t k,
                                                           std::span<const std::int64_t> counts) {
    return pick(population, sample_counted(std::ranges::size(population), k, counts));
  }

  // choices(population, weights, cum_weights=..., k=...): k picks with replacement.
  template <Sequence Seq>
  std::vector<std::ranges::range_value_t<const Seq>> choices(const Seq& population,
                                                            const ChoicesOptions& options = {}) {
    return pick(population, choice_indices(std::ranges::size(population), options));
  }

private:
  static constexpr std::size_t N = 624;  // MT19937 state words

  void init_genrand(std::uint32_t s);
  void init_by_array(const std::uint32_t* key, std::size_t len);
  void twist();
  std::uint32_t next_u32();

  // CPython's _randbelow(n) for 1 <= n < 2^64 (rejection sampling on bit_length(n) bits).
  std::uint64_t randbelow(std::uint64_t n);
  // _randbelow(max + 1), also for max + 1 == 2^64 (randint over all of int64).
  std::uint64_t randbelow_inclusive(std::uint64_t max);
  // Index for choice(): Python raises IndexError on an empty sequence.
  std::uint64_t index_into(std::uint64_t size);
  // The positions sample/choices pick, computed as Lib/random.py does.
  std::vector<std::uint64_t> sample_indices(std::uint64_t n, std::int64_t k);
  std::vector<std::uint64_t> sample_counted(std::uint64_t n, std::int64_t k, std::span<const std::int64_t> counts);
  std::vector<std::uint64_t> choice_indices(std::uint64_t n, const ChoicesOptions& options);

  template <Sequence Seq>
  static std::ranges::range_value_t<const Seq> at(const Seq& seq, std::uint64_t i) {
    return *(std::ranges::begin(seq) + static_cast<std::ptrdiff_t>(i));
  }
  template <Sequence Seq>
  static std::vector<std::ranges::range_value_t<const Seq>> pick(const Seq& seq, const std::vector<std::uint64_t>& at_) {
    std::vector<std::ranges::range_value_t<const Seq>> out;
    out.reserve(at_.size());
    for (std::uint64_t i : at_) out.push_back(at(seq, i));
    return out;
  }

  std::array<std::uint32_t, N> mt_{};
  std::size_t mti_ = N + 1;
  std::optional<double> gauss_next_;
};

namespace detail {
// The calling thread's generator behind the module-level functions.
ASYNCUV_API Random& thread_generator();
}  // namespace detail

// Module-level functions, like `random.seed(42)` etc.: one generator per thread.
template <std::integral I>
void seed(I n) { detail::thread_generator().seed(n); }
void seed(double x);
void seed(std::string_view str);
void seed(std::span<const std::byte> bytes);
void seed_words(std::span<const std::uint32_t> magnitude);
void seed_decimal(std::string_view decimal);
void seed();
State getstate();
void setstate(const State& state);
double random();
std::uint64_t getrandbits(int k);
std::vector<std::uint32_t> getrandbits_words(int k);
std::vector<std::byte> randbytes(std::size_t n);
std::int64_t randrange(std::int64_t stop);
std::int64_t randrange(std::int64_t start, std::int64_t stop, std::int64_t step = 1);
std::int64_t randint(std::int64_t a, std::int64_t b);
double uniform(double a, double b);
double triangular(double low = 0.0, double high = 1.0, std::optional<double> mode = std::nullopt);
double normalvariate(double mu = 0.0, double sigma = 1.0);
double gauss(double mu = 0.0, double sigma = 1.0);
double lognormvariate(double mu, double sigma);
double expovariate(double lambd);
double vonmisesvariate(double mu, double kappa);
double gammavariate(double alpha, double beta);
double betavariate(double alpha, double beta);
double paretovariate(double alpha);
double weibullvariate(double alpha, double beta);

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
template <Sequence Seq>
auto sample(const Seq& population, std::int64_t k) { return detail::thread_generator().sample(population, k); }
template <Sequence Seq>
auto sample(const Seq& population, std::int64_t k, std::span<const std::int64_t> counts) {
  return detail::thread_generator().sample(population, k, counts);
}
template <Sequence Seq>
auto choices(const Seq& population, const ChoicesOptions& options = {}) {
  return detail::thread_generator().choices(population, options);
}

}  // namespace asyncuv::random
