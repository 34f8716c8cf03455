// test_random.cpp — asyncuv::random against CPython's random module.
//
// The main tests are differential: the same cases run here and in CPython
// (test/random_ref.py via popen) and every value must match exactly (doubles
// bit for bit).  Error messages, generator independence and per-thread module
// state are checked directly.
#include <asyncuv/random.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rnd = asyncuv::random;

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// ---------------------------------------------------------------- python side

std::string test_dir() {
#ifdef ASYNCUV_TEST_DIR
  return ASYNCUV_TEST_DIR;
#else
  std::string file = __FILE__;  // fallback: the directory of this source
  return file.substr(0, file.find_last_of('/') + 1);
#endif
}

// Debian's /usr/bin/python3 is the reference CPython; any python3 on PATH is
// the fallback (e.g. on other systems), and without one the tests are skipped.
std::optional<std::string> find_python() {
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/python3";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a command and returns its stdout, or nullopt if it failed.
std::optional<std::string> run_command(const std::string& cmd) {
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 65536> buf{};
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (status != 0) return std::nullopt;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

// ----------------------------------------------------------------- cases

// A seed as Python spells it, and how C++ applies it (keeping the C++ type,
// so that seed() is exercised with many integer types).
struct Seed {
  std::string py;
  std::function<void(rnd::Random&)> to_instance;
  std::function<void()> to_module;
};

template <std::integral I>
Seed make_seed(I value, std::string py) {
  return {std::move(py), [value](rnd::Random& r) { r.seed(value); },
          [value] { rnd::seed(value); }};
}

std::vector<Seed> seeds() {
  return {
      make_seed(0, "0"),
      make_seed(static_cast<short>(1), "1"),
      make_seed(42, "42"),
      make_seed(4294967301LL, "4294967301"),                      // 2**32 + 5
      make_seed(18446744073709551615ULL, "18446744073709551615"),  // 2**64 - 1
      make_seed(static_cast<signed char>(-7), "-7"),
      make_seed(kMin, "-9223372036854775808"),
      make_seed(4294967295u, "4294967295"),                       // 2**32 - 1: one word
      make_seed(std::uint64_t{4294967296}, "4294967296"),         // 2**32: two words
      make_seed(12345678901234L, "12345678901234"),
  };
}

struct Case {
  std::string op;
  int count;
  std::vector<std::int64_t> args;  // integer arguments
  double fa = 0, fb = 0;           // uniform's arguments
};

std::vector<Case> cases() {
  std::vector<Case> cs = {{"random", 2000, {}}, {"mix", 300, {}}};
  for (int k : {0, 1, 2, 7, 31, 32, 33, 53, 63, 64}) cs.push_back({"getrandbits", 1000, {k}});
  const std::vector<std::vector<std::int64_t>> ranges = {
      {1}, {2}, {10}, {1000}, {kMax}, {std::int64_t{1} << 62}, {(std::int64_t{1} << 62) + 1},
      {-5, 17}, {0, 1}, {kMin, kMax}, {kMin, kMin + 1}, {-1, kMax},
      {0, 10, 3}, {10, -10, -3}, {100, 0, -1}, {0, 100, 1}, {kMin, kMax, 3},
      {kMax, kMin, -1}, {kMax, kMin, kMin}, {0, kMax, std::int64_t{1} << 62},
      {kMin, kMax, kMax}, {kMin, kMax, 2}, {-7, 7, 5}, {5, -100, -7}};
  for (const auto& args : ranges) cs.push_back({"randrange", 1000, args});
  const std::vector<std::vector<std::int64_t>> ints = {
      {1, 6}, {0, 0}, {-3, 3}, {kMin, kMax}, {kMin + 1, kMax}, {kMin, kMax - 1}, {0, kMax},
      {kMin, -1}, {kMin, kMin}, {kMax, kMax}, {-1000000, 1000000}};
  for (const auto& args : ints) cs.push_back({"randint", 1000, args});
  cs.push_back({"uniform", 1000, {}, 0.0, 1.0});
  cs.push_back({"uniform", 1000, {}, 1.0, 10.0});
  cs.push_back({"uniform", 1000, {}, 10.0, 1.0});
  cs.push_back({"uniform", 1000, {}, -1e300, 1e300});
  cs.push_back({"uniform", 1000, {}, 0.1, 0.7});
  cs.push_back({"uniform", 1000, {}, -3.25, 1e-9});
  for (std::int64_t len : {1, 2, 10, 1000, 100000}) cs.push_back({"choice", 1000, {len}});
  for (std::int64_t len : {0, 1, 2, 3, 10, 1000}) cs.push_back({"shuffle", 5, {len}});
  return cs;
}

std::string hex_double(double d) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%a", d);
  return buf.data();
}

std::string case_arg(const Seed& seed, const Case& c) {
  std::string args;
  if (c.op == "uniform") {
    args = hex_double(c.fa) + "," + hex_double(c.fb);
  } else {
    for (std::size_t i = 0; i < c.args.size(); ++i) args += (i ? "," : "") + std::to_string(c.args[i]);
  }
  return seed.py + ":" + c.op + ":" + std::to_string(c.count) + ":" + args;
}

// The two ways to reach a generator: an instance, or the module functions.
struct InstanceGen {
  rnd::Random& r;
  double random() { return r.random(); }
  std::uint64_t getrandbits(int k) { return r.getrandbits(k); }
  std::int64_t randrange(std::int64_t stop) { return r.randrange(stop); }
  std::int64_t randrange(std::int64_t a, std::int64_t b, std::int64_t s = 1) { return r.randrange(a, b, s); }
  std::int64_t randint(std::int64_t a, std::int64_t b) { return r.randint(a, b); }
  double uniform(double a, double b) { return r.uniform(a, b); }
  template <class S> auto choice(const S& s) { return r.choice(s); }
  template <class S> void shuffle(S& s) { r.shuffle(s); }
};

struct ModuleGen {
  double random() { return rnd::random(); }
  std::uint64_t getrandbits(int k) { return rnd::getrandbits(k); }
  std::int64_t randrange(std::int64_t stop) { return rnd::randrange(stop); }
  std::int64_t randrange(std::int64_t a, std::int64_t b, std::int64_t s = 1) { return rnd::randrange(a, b, s); }
  std::int64_t randint(std::int64_t a, std::int64_t b) { return rnd::randint(a, b); }
  double uniform(double a, double b) { return rnd::uniform(a, b); }
  template <class S> auto choice(const S& s) { return rnd::choice(s); }
  template <class S> void shuffle(S& s) { rnd::shuffle(s); }
};

std::string bits(double d) { return std::to_string(std::bit_cast<std::uint64_t>(d)); }

// Mirrors random_ref.py's run(): the same calls, the same output tokens.
template <class Gen>
std::vector<std::string> run_case(Gen g, const Case& c) {
  std::vector<std::string> out;
  auto put = [&out](auto v) { out.push_back(std::to_string(v)); };
  const auto& a = c.args;
  for (int i = 0; i < c.count; ++i) {
    if (c.op == "random") out.push_back(bits(g.random()));
    else if (c.op == "getrandbits") put(g.getrandbits(static_cast<int>(a[0])));
    else if (c.op == "randrange" && a.size() == 1) put(g.randrange(a[0]));
    else if (c.op == "randrange" && a.size() == 2) put(g.randrange(a[0], a[1]));
    else if (c.op == "randrange") put(g.randrange(a[0], a[1], a[2]));
    else if (c.op == "randint") put(g.randint(a[0], a[1]));
    else if (c.op == "uniform") out.push_back(bits(g.uniform(c.fa, c.fb)));
    else if (c.op == "choice") {
      std::vector<std::int64_t> seq(static_cast<std::size_t>(a[0]));
      for (std::size_t j = 0; j < seq.size(); ++j) seq[j] = static_cast<std::int64_t>(j * j);
      for (; i < c.count; ++i) put(g.choice(seq));
    } else if (c.op == "shuffle") {
      std::vector<std::int64_t> seq(static_cast<std::size_t>(a[0]));
      for (std::size_t j = 0; j < seq.size(); ++j) seq[j] = static_cast<std::int64_t>(j);
      for (; i < c.count; ++i) {
        g.shuffle(seq);
        for (auto v : seq) put(v);
      }
    } else if (c.op == "mix") {
      const std::int64_t n = i;
      out.push_back(bits(g.random()));
      put(g.getrandbits(i % 65));
      put(g.randrange(n + 1));
      put(g.randint(-n, n));
      put(g.randrange(kMin, kMax, n + 1));
      out.push_back(bits(g.uniform(-1.5, 2.5)));
      std::vector<int> seq(static_cast<std::size_t>(i % 7 + 1));
      for (std::size_t j = 0; j < seq.size(); ++j) seq[j] = static_cast<int>(j);
      put(g.choice(seq));
    }
  }
  return out;
}

// Reports the first differing value, rather than two huge vectors.
void compare(const std::string& what, const std::vector<std::string>& expected,
             const std::vector<std::string>& got) {
  std::size_t i = 0;
  while (i < expected.size() && i < got.size() && expected[i] == got[i]) ++i;
  const bool same = i == expected.size() && i == got.size();
  CHECK_MESSAGE(same, what << ": first difference at value " << i << " of " << expected.size()
                           << " (python " << (i < expected.size() ? expected[i] : "<end>")
                           << ", c++ " << (i < got.size() ? got[i] : "<end>") << ")");
}

}  // namespace

TEST_CASE("random: bit-identical to CPython for many seeds and every function") {
  const auto python = find_python();
  if (!python) {
    MESSAGE("SKIPPED: no python3 found (/usr/bin/python3 or PATH); differential tests not run");
    return;
  }
  const auto version = run_command(shell_quote(*python) + " -c 'import sys; print(sys.version.split()[0])'");
  MESSAGE("reference: " << *python << " " << (version ? *version : std::string("?")));

  const auto all_seeds = seeds();
  const auto all_cases = cases();
  std::string cmd = shell_quote(*python) + " " + shell_quote(test_dir() + "random_ref.py");
  for (const auto& s : all_seeds)
    for (const auto& c : all_cases) cmd += " " + shell_quote(case_arg(s, c));
  const auto output = run_command(cmd);
  REQUIRE_MESSAGE(output.has_value(), "random_ref.py failed: " << cmd.substr(0, 200));

  const auto lines = split(*output, '\n');
  REQUIRE(lines.size() == all_seeds.size() * all_cases.size());
  std::size_t line = 0;
  for (const auto& s : all_seeds) {
    for (const auto& c : all_cases) {
      const auto expected = split(lines[line++], ' ');
      rnd::Random r(12345);  // reseeded below: the constructor must not matter
      s.to_instance(r);
      compare("Random(" + case_arg(s, c) + ")", expected, run_case(InstanceGen{r}, c));
      s.to_module();
      compare("module " + case_arg(s, c), expected, run_case(ModuleGen{}, c));
    }
  }
}

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
