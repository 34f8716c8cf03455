// random_sample.cpp — the positions that sample() and choices() pick, computed
// exactly as Lib/random.py does (its pool/set switch, its bisect, its
// float arithmetic), so the chosen elements match CPython's.
#include <cmath>
#include <limits>
#include <unordered_set>

#include "asyncuv/random.hpp"

namespace asyncuv::random {

namespace {

// CPython's bisect_right(a, x, lo, hi) step for step: with unsorted input
// (negative weights) the probes, and so the answer, must be the same.
template <class T, class U>
std::uint64_t bisect_right(const std::vector<T>& a, U x, std::uint64_t lo, std::uint64_t hi) {
  while (lo < hi) {
    const std::uint64_t mid = (lo + hi) / 2;
    if (x < a[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// sample()'s threshold between copying the population into a pool and
// remembering the chosen positions in a set:
// 21 + (k > 5 ? 4 ** ceil(log(k * 3, 4)) : 0), saturated at 2^64 - 1.
std::uint64_t sample_set_size(std::uint64_t k) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (k <= 5) return 21;
  if (k > kMax / 3) return kMax;
  const double exponent = std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0));
  if (exponent >= 32) return kMax;
  return 21 + (std::uint64_t{1} << (2 * static_cast<int>(exponent)));
}

}  // namespace

std::vector<std::uint64_t> Random::sample_indices(std::uint64_t n, std::int64_t k) {
  if (k < 0 || static_cast<std::uint64_t>(k) > n) {
    throw std::invalid_argument("Sample larger than population or is negative");
  }
  const auto count = static_cast<std::uint64_t>(k);
  std::vector<std::uint64_t> result(count);
  if (n <= sample_set_size(count)) {
    // Partial Fisher–Yates on a pool of positions: the last free one moves
    // into the chosen slot.
    std::vector<std::uint64_t> pool(n);
    for (std::uint64_t i = 0; i < n; ++i) pool[i] = i;
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t j = randbelow(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
    return result;
  }
  std::unordered_set<std::uint64_t> selected;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t j = randbelow(n);
    while (selected.contains(j)) j = randbelow(n);
    selected.insert(j);
    result[i] = j;
  }
  return result;
}

std::vector<std::uint64_t> Random::sample_counted(std::uint64_t n, std::int64_t k,
                                                  std::span<const std::int64_t> counts) {
  std::vector<std::int64_t> cum_counts;
  cum_counts.reserve(counts.size());
  std::int64_t sum = 0;
  for (std::int64_t c : counts) {
    if (__builtin_add_overflow(sum, c, &sum)) throw std::overflow_error("sample: total of counts exceeds int64");
    cum_counts.push_back(sum);
  }
  if (cum_counts.size() != n) throw std::invalid_argument("The number of counts does not match the population");
  if (cum_counts.empty()) throw std::out_of_range("pop from empty list");
  const std::int64_t total = cum_counts.back();
  cum_counts.pop_back();
  if (total <= 0) throw std::invalid_argument("Total of counts must be greater than zero");
  std::vector<std::uint64_t> chosen = sample_indices(static_cast<std::uint64_t>(total), k);
  for (auto& s : chosen) s = bisect_right(cum_counts, static_cast<std::int64_t>(s), 0, cum_counts.size());
  return chosen;
}

std::vector<std::uint64_t> Random::choice_indices(std::uint64_t n, const ChoicesOptions& options) {
  std::vector<std::uint64_t> result;
  if (!options.cum_weights && !options.weights) {
    const double size = static_cast<double>(n);
    for (std::size_t i = 0; i < options.k; ++i) {
      const double at = std::floor(random() * size);
      if (n == 0) throw std::out_of_range("list index out of range");  // population[0]
      result.push_back(static_cast<std::uint64_t>(at));
    }
    return result;
  }
  if (options.cum_weights && options.weights) {
    throw std::invalid_argument("Cannot specify both weights and cumulative weights");
  }
  std::vector<double> cum_weights;
  if (options.weights) {
    double sum = 0;
    // itertools.accumulate: the first sum is the first weight itself (not 0 + w,
    // which would turn -0.0 into 0.0).
    for (std::size_t i = 0; i < options.weights->size(); ++i) {
      sum = i == 0 ? (*options.weights)[0] : sum + (*options.weights)[i];
      cum_weights.push_back(sum);
    }
  } else {
    cum_weights.assign(options.cum_weights->begin(), options.cum_weights->end());
  }
  if (cum_weights.size() != n) throw std::invalid_argument("The number of weights does not match the population");
  if (cum_weights.empty()) throw std::out_of_range("list index out of range");  // cum_weights[-1]
  const double total = cum_weights.back() + 0.0;
  if (total <= 0.0) throw std::invalid_argument("Total of weights must be greater than zero");
  if (!std::isfinite(total)) throw std::invalid_argument("Total of weights must be finite");
  const std::uint64_t hi = n - 1;
  result.reserve(options.k);
  for (std::size_t i = 0; i < options.k; ++i) result.push_back(bisect_right(cum_weights, random() * total, 0, hi));
  return result;
}

}  // namespace asyncuv::random
