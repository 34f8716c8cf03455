// random_variates.cpp — Lib/random.py's real-valued distributions.
//
// Each formula is written in Python's evaluation order, with one rounding per
// operation and the same libm functions (log, exp, sqrt, cos, sin, acos, pow,
// fmod), so results match CPython bit for bit on the same libm. The project
// builds with -std=c++20, under which GCC does not fuse a*b+c into an FMA
// (that would round once and change last bits); clang is told so below.
#include <cmath>
#include <numbers>

#include "asyncuv/random.hpp"

#ifdef __clang__
#pragma clang fp contract(off)
#endif

namespace asyncuv::random {

namespace {

// Lib/random.py's constants, computed the same way at import time there.
const double kTwoPi = 2.0 * std::numbers::pi;
const double kNvMagic = 4 * std::exp(-0.5) / std::sqrt(2.0);
const double kLog4 = std::log(4.0);
const double kSgMagic = 1.0 + std::log(4.5);

[[noreturn]] void domain_error() { throw std::invalid_argument("math domain error"); }

// math.log / math.exp / math.sqrt / math.acos with Python's error checks.
double py_log(double x) {
  if (x <= 0.0) domain_error();
  return std::log(x);
}

double py_exp(double x) {
  const double r = std::exp(x);
  if (std::isinf(r) && std::isfinite(x)) throw std::overflow_error("math range error");
  return r;
}

double py_sqrt(double x) {
  if (x < 0.0) domain_error();
  return std::sqrt(x);
}

double py_acos(double x) {
  if (x < -1.0 || x > 1.0) domain_error();
  return std::acos(x);
}

// Python's float division and ** on the values these formulas can produce.
double divide(double a, double b) {
  if (b == 0.0) throw std::domain_error("float division by zero");
  return a / b;
}

double py_pow(double base, double exponent) {
  if (base == 0.0 && exponent < 0.0) throw std::domain_error("0.0 cannot be raised to a negative power");
  const double r = std::pow(base, exponent);
  // Python reports pow's ERANGE on overflow as OverflowError(errno, strerror).
  if (std::isinf(r) && std::isfinite(base) && std::isfinite(exponent)) {
    throw std::overflow_error("(34, 'Numerical result out of range')");
  }
  return r;
}

// Python's x % y for floats: the result takes the sign of y.
double py_mod(double x, double y) {
  double m = std::fmod(x, y);
  if (m != 0.0) {
    if ((y < 0) != (m < 0)) m += y;
  } else {
    m = std::copysign(0.0, y);
  }
  return m;
}

}  // namespace

double Random::uniform(double a, double b) {
  // The volatile forces the product's rounding even in builds that allow
  // contraction (e.g. -std=gnu++20 with FMA), where a + (b-a)*r would fuse.
  const volatile double scaled = (b - a) * random();
  return a + scaled;
}

double Random::triangular(double low, double high, std::optional<double> mode) {
  double u = random();
  double c = 0.5;
  if (mode) {
    if (high - low == 0.0) return low;  // Python: ZeroDivisionError, caught
    c = (*mode - low) / (high - low);
  }
  if (u > c) {
    u = 1.0 - u;
    c = 1.0 - c;
    std::swap(low, high);
  }
  return low + (high - low) * py_sqrt(u * c);
}

double Random::normalvariate(double mu, double sigma) {
  // Kinderman and Monahan's ratio-of-uniforms method.
  double z = 0;
  for (;;) {
    const double u1 = random();
    const double u2 = 1.0 - random();
    z = kNvMagic * (u1 - 0.5) / u2;
    const double zz = z * z / 4.0;
    if (zz <= -py_log(u2)) break;
  }
  return mu + z * sigma;
}

double Random::gauss(double mu, double sigma) {
  // Box–Muller: each pair of draws yields two deviates; the second is kept
  // for the next call (and dropped by seed(), kept by getstate()).
  std::optional<double> z = gauss_next_;
  gauss_next_.reset();
  if (!z) {
    const double x2pi = random() * kTwoPi;
    const double g2rad = py_sqrt(-2.0 * py_log(1.0 - random()));
    z = std::cos(x2pi) * g2rad;
    gauss_next_ = std::sin(x2pi) * g2rad;
  }
  return mu + *z * sigma;
}

double Random::lognormvariate(double mu, double sigma) { return py_exp(normalvariate(mu, sigma)); }

double Random::expovariate(double lambd) { return divide(-py_log(1.0 - random()), lambd); }

double Random::vonmisesvariate(double mu, double kappa) {
  if (kappa <= 1e-6) return kTwoPi * random();
  const double s = 0.5 / kappa;
  const double r = s + py_sqrt(1.0 + s * s);
  double z = 0;
  for (;;) {
    const double u1 = random();
    z = std::cos(std::numbers::pi * u1);
    const double d = z / (r + z);
    const double u2 = random();
    if (u2 < 1.0 - d * d || u2 <= (1.0 - d) * py_exp(d)) break;
  }
  const double q = 1.0 / r;
  const double f = (q + z) / (1.0 + q * z);
  const double u3 = random();
  return u3 > 0.5 ? py_mod(mu + py_acos(f), kTwoPi) : py_mod(mu - py_acos(f), kTwoPi);
}

double Random::gammavariate(double alpha, double beta) {
  if (alpha <= 0.0 || beta <= 0.0) throw std::invalid_argument("gammavariate: alpha and beta must be > 0.0");
  if (alpha > 1.0) {
    // Cheng's rejection algorithm GB for alpha > 1.
    const double ainv = py_sqrt(2.0 * alpha - 1.0);
    const double bbb = alpha - kLog4;
    const double ccc = alpha + ainv;
    for (;;) {
      const double u1 = random();
      if (!(1e-7 < u1 && u1 < 0.9999999)) continue;
      const double u2 = 1.0 - random();
      const double v = py_log(u1 / (1.0 - u1)) / ainv;
      const double x = alpha * py_exp(v);
      const double z = u1 * u1 * u2;
      const double r = bbb + ccc * v - x;
      if (r + kSgMagic - 4.5 * z >= 0.0 || r >= py_log(z)) return x * beta;
    }
  }
  if (alpha == 1.0) return -py_log(1.0 - random()) * beta;
  // alpha < 1: Ahrens and Dieter's algorithm GS (ALGORITHM GS of Statistical Computing).
  double x = 0;
  for (;;) {
    const double u = random();
    const double b = (std::numbers::e + alpha) / std::numbers::e;
    const double p = b * u;
    x = p <= 1.0 ? py_pow(p, 1.0 / alpha) : -py_log((b - p) / alpha);
    const double u1 = random();
    if (p > 1.0 ? u1 <= py_pow(x, alpha - 1.0) : u1 <= py_exp(-x)) break;
  }
  return x * beta;
}

double Random::betavariate(double alpha, double beta) {
  const double y = gammavariate(alpha, 1.0);
  if (y != 0.0) return y / (y + gammavariate(beta, 1.0));
  return 0.0;
}

double Random::paretovariate(double alpha) {
  const double u = 1.0 - random();
  return py_pow(u, divide(-1.0, alpha));
}

double Random::weibullvariate(double alpha, double beta) {
  const double u = 1.0 - random();
  return alpha * py_pow(-py_log(u), divide(1.0, beta));
}

double uniform(double a, double b) { return detail::thread_generator().uniform(a, b); }
double triangular(double low, double high, std::optional<double> mode) {
  return detail::thread_generator().triangular(low, high, mode);
}
double normalvariate(double mu, double sigma) { return detail::thread_generator().normalvariate(mu, sigma); }
double gauss(double mu, double sigma) { return detail::thread_generator().gauss(mu, sigma); }
double lognormvariate(double mu, double sigma) { return detail::thread_generator().lognormvariate(mu, sigma); }
double expovariate(double lambd) { return detail::thread_generator().expovariate(lambd); }
double vonmisesvariate(double mu, double kappa) { return detail::thread_generator().vonmisesvariate(mu, kappa); }
double gammavariate(double alpha, double beta) { return detail::thread_generator().gammavariate(alpha, beta); }
double betavariate(double alpha, double beta) { return detail::thread_generator().betavariate(alpha, beta); }
double paretovariate(double alpha) { return detail::thread_generator().paretovariate(alpha); }
double weibullvariate(double alpha, double beta) { return detail::thread_generator().weibullvariate(alpha, beta); }

}  // namespace asyncuv::random
