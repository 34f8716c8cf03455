// test_random_api.cpp — asyncuv::random's contract beyond the differential
// runs in test_random.cpp: CPython's error types and messages, big-integer
// seeds, getstate/setstate, accepted containers, module-level forwarding, and
// the per-thread module generator. (SHA-512 itself: test_detail_sha512.cpp.)
#include <asyncuv/random.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace rnd = asyncuv::random;

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

}  // namespace

TEST_CASE("random: known CPython 3.11 values (no python needed)") {
  rnd::Random r(42);
  CHECK(r.random() == 0.6394267984578837);
  std::vector<std::int64_t> ints;
  for (int i = 0; i < 5; ++i) ints.push_back(r.randint(1, 10));
  CHECK(ints == std::vector<std::int64_t>{1, 5, 4, 4, 3});

  r.seed(0);
  std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  r.shuffle(v);
  CHECK(v == std::vector<int>{7, 8, 1, 5, 3, 4, 2, 0, 9, 6});
  CHECK(r.choice(std::string("abcdef")) == 'c');
  CHECK(r.getrandbits(64) == 16448235973081859711ULL);

  r.seed(18446744073709551615ULL);
  CHECK(r.uniform(1, 2) == 1.02182569540127);
  CHECK(r.randrange(kMin, kMax) == 2190573591749028416);
}

TEST_CASE("random: seeding uses abs(n) and accepts every integer type") {
  auto first = [](auto n) { return rnd::Random(n).getrandbits(64); };
  CHECK(first(-5) == first(5));
  CHECK(first(static_cast<signed char>(-128)) == first(128u));
  CHECK(first(kMin) == first(std::uint64_t{1} << 63));  // |INT64_MIN| without overflow
  CHECK(first(false) == first(0));
  CHECK(first(true) == first(1));
  CHECK(first(static_cast<unsigned char>(200)) == first(200LL));
  CHECK(first('A') == first(65));
  CHECK(first(0) != first(1));
  CHECK(first(4294967295u) != first(std::uint64_t{4294967296}));

  rnd::Random r;  // OS-seeded; reseeding must fully reset it
  r.seed(42);
  CHECK(r.random() == 0.6394267984578837);
}

TEST_CASE("random: getrandbits(0) is 0 and consumes nothing") {
  rnd::Random a(7), b(7);
  CHECK(a.getrandbits(0) == 0);
  CHECK(a.random() == b.random());
}

TEST_CASE("random: error types and CPython 3.11 messages") {
  rnd::Random r(1);
  const std::string empty = "empty range for randrange()";
  CHECK_THROWS_WITH_AS(r.getrandbits(-1), "number of bits must be non-negative", std::invalid_argument);
  CHECK_THROWS_AS(r.getrandbits(65), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(0), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(-5), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(kMin), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(5, 5), "empty range for randrange() (5, 5, 0)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(5, 2), "empty range for randrange() (5, 2, -3)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(5, 2, 1), "empty range for randrange() (5, 2, -3)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(kMax, kMin),
                       "empty range for randrange() (9223372036854775807, -9223372036854775808, "
                       "-18446744073709551615)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(0, 10, 0), "zero step for randrange()", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(10, 0, 0), "zero step for randrange()", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(0, 0, 0), "zero step for randrange()", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(0, 10, -1), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(10, 0, 2), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(3, 3, 2), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randrange(3, 3, -2), empty.c_str(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randint(5, 1), "empty range for randrange() (5, 2, -3)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randint(3, 2), "empty range for randrange() (3, 3, 0)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.randint(kMax, kMin),
                       "empty range for randrange() (9223372036854775807, -9223372036854775807, "
                       "-18446744073709551614)",
                       std::invalid_argument);
  const std::vector<int> none;
  CHECK_THROWS_WITH_AS(r.choice(none), "Cannot choose from an empty sequence", std::out_of_range);
  CHECK_THROWS_WITH_AS(r.choice(std::string()), "Cannot choose from an empty sequence", std::out_of_range);
  CHECK_THROWS_WITH_AS(rnd::choice(none), "Cannot choose from an empty sequence", std::out_of_range);
  CHECK_THROWS_WITH_AS(rnd::randint(5, 1), "empty range for randrange() (5, 2, -3)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(rnd::getrandbits(-3), "number of bits must be non-negative", std::invalid_argument);

  // A failed call consumes no randomness, as in Python.
  rnd::Random fresh(1);
  CHECK(r.random() == fresh.random());
}

TEST_CASE("random: choice and shuffle accept the usual sequences") {
  rnd::Random r(3);
  const int c_array[] = {4, 5, 6};
  std::array<int, 3> arr{1, 2, 3};
  std::deque<int> dq{7, 8, 9};
  std::vector<bool> flags{true, false, true, false};
  CHECK(r.choice(c_array) >= 4);
  CHECK(r.choice(arr) <= 3);
  CHECK(r.choice(dq) >= 7);
  CHECK(r.choice({10, 20, 30}) % 10 == 0);
  CHECK(rnd::choice({1.5, 2.5}) > 1.0);
  [[maybe_unused]] bool flag = r.choice(flags);

  // Same permutation whatever the container, as only swaps by index happen.
  auto perm = [](auto seq) { rnd::Random g(99); g.shuffle(seq); return std::vector<int>(seq.begin(), seq.end()); };
  const auto reference = perm(std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(perm(std::array<int, 8>{0, 1, 2, 3, 4, 5, 6, 7}) == reference);
  CHECK(perm(std::deque<int>{0, 1, 2, 3, 4, 5, 6, 7}) == reference);
  int raw[] = {0, 1, 2, 3, 4, 5, 6, 7};
  rnd::Random g(99);
  g.shuffle(std::span<int>(raw));  // a temporary view shuffles the array it refers to
  CHECK(std::vector<int>(std::begin(raw), std::end(raw)) == reference);
  r.shuffle(flags);
  CHECK(flags.size() == 4);
}

TEST_CASE("random: Random instances are independent of each other and of the module") {
  rnd::Random expected(42);
  std::vector<double> want;
  for (int i = 0; i < 100; ++i) want.push_back(expected.random());

  rnd::Random a(42), b(42);
  rnd::seed(42);
  std::vector<double> got_a, got_b, got_module;
  for (int i = 0; i < 100; ++i) {
    got_a.push_back(a.random());
    (void)b.getrandbits(17);  // disturbs b only
    got_module.push_back(rnd::random());
    (void)rnd::randint(1, 6);  // disturbs the module only
  }
  CHECK(got_a == want);
  CHECK(got_module[0] == want[0]);
  CHECK(got_module != want);  // the module's own extra calls advanced it

  rnd::Random c(42);
  rnd::seed(42);
  for (int i = 0; i < 100; ++i) {
    got_b.push_back(rnd::random());
    (void)c.random();  // an instance never touches the module generator
  }
  CHECK(got_b == want);

  rnd::Random copy = a;  // copies snapshot the state, like getstate/setstate
  CHECK(copy.random() == a.random());

  CHECK(rnd::Random().getrandbits(64) != rnd::Random().getrandbits(64));  // OS seeds differ
}

TEST_CASE("random: the module generator is per thread") {
  rnd::Random ref42(42), ref7(7);
  std::vector<double> want42, want7;
  for (int i = 0; i < 50; ++i) {
    want42.push_back(ref42.random());
    want7.push_back(ref7.random());
  }

  rnd::seed(42);
  std::vector<double> main_got, thread_got, unseeded;
  for (int i = 0; i < 25; ++i) main_got.push_back(rnd::random());
  std::thread other([&] {
    for (int i = 0; i < 50; ++i) unseeded.push_back(rnd::random());  // OS-seeded, own state
    rnd::seed(7);
    for (int i = 0; i < 50; ++i) thread_got.push_back(rnd::random());
  });
  other.join();
  for (int i = 25; i < 50; ++i) main_got.push_back(rnd::random());

  CHECK(main_got == want42);  // the other thread's seed(7) and draws did not touch ours
  CHECK(thread_got == want7);
  CHECK(unseeded != want42);  // a new thread does not inherit this thread's seed
}

TEST_CASE("random: seeds of every kind") {
  auto first = [](rnd::Random r) { return r.getrandbits(64); };
  // Big integers: decimal text and words agree with the built-in integer types.
  CHECK(first(rnd::Random(5)) == [] { rnd::Random r; r.seed_decimal("-5"); return r.getrandbits(64); }());
  CHECK(first(rnd::Random(18446744073709551615ULL)) ==
        [] { rnd::Random r; r.seed_decimal("+18446744073709551615"); return r.getrandbits(64); }());
  const std::uint32_t words[] = {7, 0, 0};
  CHECK(first(rnd::Random(7)) == [&] { rnd::Random r; r.seed_words(words); return r.getrandbits(64); }());
  CHECK(first(rnd::Random(0)) == [] { rnd::Random r; r.seed_words({}); return r.getrandbits(64); }());
  rnd::Random r;
  CHECK_THROWS_WITH_AS(r.seed_decimal("12a"), "invalid literal for int() with base 10: '12a'", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.seed_decimal("-"), "invalid literal for int() with base 10: '-'", std::invalid_argument);
  CHECK_THROWS_AS(r.seed_decimal(""), std::invalid_argument);
  CHECK(rnd::to_decimal(std::vector<std::uint32_t>{}) == "0");
  CHECK(rnd::to_decimal(std::vector<std::uint32_t>{0, 1}) == "4294967296");
  CHECK(rnd::to_decimal(std::vector<std::uint32_t>{0, 0, 0, 0x80000000u}) == "170141183460469231731687303715884105728");
  // str and bytes seeds: the same bytes, the same sequence (Python encodes str as UTF-8).
  const std::string text = "abc";
  CHECK(first(rnd::Random(text)) == first(rnd::Random(std::as_bytes(std::span(text)))));
  CHECK(first(rnd::Random("abc")) == 18237557866672383999ULL);  // CPython: Random('abc').getrandbits(64)
  CHECK(first(rnd::Random(1.5)) != first(rnd::Random(2.0)));
  CHECK(first(rnd::Random(2.0)) == first(rnd::Random(2)));    // hash(2.0) == 2
  CHECK(first(rnd::Random(-2.0)) != first(rnd::Random(-2)));  // hash(-2.0) == -2, taken mod 2^64, not abs
  CHECK(first(rnd::Random(std::nan(""))) != first(rnd::Random(std::nan(""))));  // OS entropy, as Python's id-hash
}

TEST_CASE("random: getstate/setstate restores the sequence, gauss's pending value included") {
  rnd::Random r(2024);
  for (int i = 0; i < 700; ++i) (void)r.random();  // crosses a twist
  (void)r.gauss();                                  // leaves the second deviate pending
  const rnd::State saved = r.getstate();
  REQUIRE(saved.gauss_next.has_value());
  std::vector<double> want;
  for (int i = 0; i < 10; ++i) want.push_back(r.gauss());
  for (int i = 0; i < 700; ++i) want.push_back(r.random());

  rnd::Random other(1);
  other.setstate(saved);
  CHECK(other.getstate() == saved);
  std::vector<double> got;
  for (int i = 0; i < 10; ++i) got.push_back(other.gauss());
  for (int i = 0; i < 700; ++i) got.push_back(other.random());
  CHECK(got == want);

  rnd::State bad = saved;
  bad.index = 625;
  CHECK_THROWS_WITH_AS(other.setstate(bad), "invalid state", std::invalid_argument);
  bad.index = 624;  // the largest valid index: the next draw twists first
  other.setstate(bad);
  CHECK(other.getstate().index == 624);

  other.seed(3);  // seeding forgets the pending gauss value
  CHECK_FALSE(other.getstate().gauss_next.has_value());
  rnd::seed(9);
  (void)rnd::gauss();
  const rnd::State module_state = rnd::getstate();
  const double next = rnd::gauss();
  rnd::setstate(module_state);
  CHECK(rnd::gauss() == next);
}

TEST_CASE("random: the new functions' errors carry CPython 3.11's types and messages") {
  rnd::Random r(1);
  const std::vector<int> pop{1, 2};
  const std::vector<double> one{1}, two{1, 2}, zeros{0, 0};
  const std::vector<double> inf{1, INFINITY}, nan{1, NAN};
  CHECK_THROWS_WITH_AS(r.choices(pop, {.weights = one}), "The number of weights does not match the population",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.choices(pop, {.weights = two, .cum_weights = two}),
                       "Cannot specify both weights and cumulative weights", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.choices(pop, {.weights = zeros}), "Total of weights must be greater than zero",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.choices(pop, {.cum_weights = inf}), "Total of weights must be finite", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.choices(pop, {.weights = nan}), "Total of weights must be finite", std::invalid_argument);
  const std::vector<int> none;
  CHECK_THROWS_WITH_AS(r.choices(none, {.weights = std::vector<double>{}}), "list index out of range", std::out_of_range);
  CHECK(r.choices(none, {.k = 0}).empty());
  const std::int64_t c1[] = {1}, c00[] = {0, 0};
  CHECK_THROWS_WITH_AS(r.sample(pop, 1, c1), "The number of counts does not match the population",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.sample(pop, 1, c00), "Total of counts must be greater than zero", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.sample(none, 0, {}), "pop from empty list", std::out_of_range);
  CHECK_THROWS_WITH_AS(r.sample(pop, -1), "Sample larger than population or is negative", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.sample(pop, 3), "Sample larger than population or is negative", std::invalid_argument);
  CHECK(r.sample(none, 0).empty());
  CHECK_THROWS_WITH_AS(r.gammavariate(0, 1), "gammavariate: alpha and beta must be > 0.0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.getrandbits_words(-1), "number of bits must be non-negative", std::invalid_argument);
  CHECK(r.getrandbits_words(0).empty());
  CHECK(r.randbytes(0).empty());

  // A failed call before any draw consumes nothing (checked as Python orders its checks).
  rnd::Random fresh(1);
  CHECK(r.random() == fresh.random());
  // betavariate draws its first gamma before checking beta, as Python does.
  CHECK_THROWS_WITH_AS(r.betavariate(1, -1), "gammavariate: alpha and beta must be > 0.0", std::invalid_argument);
  (void)fresh.gammavariate(1, 1);
  CHECK(r.random() == fresh.random());

  // ZeroDivisionError / OverflowError come after Python's draw, as in Python.
  CHECK_THROWS_WITH_AS(r.expovariate(0), "float division by zero", std::domain_error);
  CHECK_THROWS_WITH_AS(r.paretovariate(0), "float division by zero", std::domain_error);
  CHECK_THROWS_WITH_AS(r.weibullvariate(1, 0), "float division by zero", std::domain_error);
  CHECK_THROWS_WITH_AS(r.lognormvariate(1000, 0), "math range error", std::overflow_error);
  r.seed(1);  // CPython: Random(1).paretovariate(1e-5) overflows
  CHECK_THROWS_WITH_AS(r.paretovariate(1e-5), "(34, 'Numerical result out of range')", std::overflow_error);
  CHECK(r.triangular(2, 2, 5) == 2);  // Python catches the ZeroDivisionError and returns low
}

TEST_CASE("random: every module-level function draws from the thread's generator") {
  rnd::Random r;
  auto both = [&r](auto seed_value) { r.seed(seed_value); rnd::seed(seed_value); };
  both(31);
  CHECK(rnd::random() == r.random());
  CHECK(rnd::getrandbits(40) == r.getrandbits(40));
  CHECK(rnd::getrandbits_words(100) == r.getrandbits_words(100));
  CHECK(rnd::randbytes(7) == r.randbytes(7));
  CHECK(rnd::randrange(10) == r.randrange(10));
  CHECK(rnd::randrange(-5, 50, 3) == r.randrange(-5, 50, 3));
  CHECK(rnd::randint(1, 6) == r.randint(1, 6));
  both(1.25);
  CHECK(rnd::uniform(1, 2) == r.uniform(1, 2));
  CHECK(rnd::triangular(0, 1, 0.25) == r.triangular(0, 1, 0.25));
  CHECK(rnd::normalvariate(1, 2) == r.normalvariate(1, 2));
  CHECK(rnd::gauss(1, 2) == r.gauss(1, 2));
  CHECK(rnd::lognormvariate(0, 1) == r.lognormvariate(0, 1));
  both("text");
  CHECK(rnd::expovariate(2) == r.expovariate(2));
  CHECK(rnd::vonmisesvariate(1, 2) == r.vonmisesvariate(1, 2));
  CHECK(rnd::gammavariate(0.5, 2) == r.gammavariate(0.5, 2));
  CHECK(rnd::betavariate(2, 3) == r.betavariate(2, 3));
  CHECK(rnd::paretovariate(3) == r.paretovariate(3));
  CHECK(rnd::weibullvariate(1, 2) == r.weibullvariate(1, 2));
  const std::vector<std::byte> bytes{std::byte{1}, std::byte{2}};
  r.seed(std::span<const std::byte>(bytes));
  rnd::seed(std::span<const std::byte>(bytes));
  const std::vector<int> pop{1, 2, 3, 4, 5};
  const std::int64_t counts[] = {1, 2, 3, 4, 5};
  CHECK(rnd::choice(pop) == r.choice(pop));
  CHECK(rnd::sample(pop, 3) == r.sample(pop, 3));
  CHECK(rnd::sample(pop, 4, counts) == r.sample(pop, 4, counts));
  CHECK(rnd::choices(pop, {.k = 4}) == r.choices(pop, {.k = 4}));
  r.seed_decimal("123456789012345678901234567890");
  rnd::seed_decimal("123456789012345678901234567890");
  CHECK(rnd::random() == r.random());
  const std::uint32_t words[] = {1, 2, 3};
  r.seed_words(words);
  rnd::seed_words(words);
  CHECK(rnd::random() == r.random());
}
