// exceptions.cpp — OSError's text and the libuv status -> Python error map.
#include "asyncuv/exceptions.hpp"

#include <uv.h>

#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace asyncuv {

namespace {

// Python's str(OSError): "[Errno N] text", then ": 'filename'" if any.
std::string os_error_text(int errno_value, const std::string& strerror, const std::string& filename) {
  std::string s = "[Errno " + std::to_string(errno_value) + "] " + strerror;
  if (!filename.empty()) s += ": '" + filename + "'";
  return s;
}

class GaiCategory : public std::error_category {
public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

// libuv's UV_EAI_* codes are its own; glibc's EAI_* are what Python shows.
struct GaiCode {
  int uv;
  int eai;
};
constexpr GaiCode gai_codes[] = {
    {UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY}, {UV_EAI_AGAIN, EAI_AGAIN},       {UV_EAI_BADFLAGS, EAI_BADFLAGS},
    {UV_EAI_CANCELED, EAI_CANCELED},     {UV_EAI_FAIL, EAI_FAIL},         {UV_EAI_FAMILY, EAI_FAMILY},
    {UV_EAI_MEMORY, EAI_MEMORY},         {UV_EAI_NODATA, EAI_NODATA},     {UV_EAI_NONAME, EAI_NONAME},
    {UV_EAI_OVERFLOW, EAI_OVERFLOW},     {UV_EAI_SERVICE, EAI_SERVICE},   {UV_EAI_SOCKTYPE, EAI_SOCKTYPE},
};

template <class E>
std::exception_ptr os_error(int errno_value, std::string text, std::string filename) {
  return std::make_exception_ptr(E(errno_value, std::move(text), std::move(filename)));
}

// PEP 3151's errno -> subclass table, as CPython's OSError.__new__ applies it.
std::exception_ptr from_errno(int e, std::string text, std::string filename) {
  switch (e) {
    case EAGAIN:
    case EALREADY:
    case EINPROGRESS: return os_error<BlockingIOError>(e, std::move(text), std::move(filename));
    case ECHILD: return os_error<ChildProcessError>(e, std::move(text), std::move(filename));
    case EPIPE:
    case ESHUTDOWN: return os_error<BrokenPipeError>(e, std::move(text), std::move(filename));
    case ECONNABORTED: return os_error<ConnectionAbortedError>(e, std::move(text), std::move(filename));
    case ECONNREFUSED: return os_error<ConnectionRefusedError>(e, std::move(text), std::move(filename));
    case ECONNRESET: return os_error<ConnectionResetError>(e, std::move(text), std::move(filename));
    case EEXIST: return os_error<FileExistsError>(e, std::move(text), std::move(filename));
    case ENOENT: return os_error<FileNotFoundError>(e, std::move(text), std::move(filename));
    case EINTR: return os_error<InterruptedError>(e, std::move(text), std::move(filename));
    case EISDIR: return os_error<IsADirectoryError>(e, std::move(text), std::move(filename));
    case ENOTDIR: return os_error<NotADirectoryError>(e, std::move(text), std::move(filename));
    case EACCES:
    case EPERM: return os_error<PermissionError>(e, std::move(text), std::move(filename));
    case ESRCH: return os_error<ProcessLookupError>(e, std::move(text), std::move(filename));
    case ETIMEDOUT: return os_error<TimeoutError>(e, std::move(text), std::move(filename));
    default: return os_error<OSError>(e, std::move(text), std::move(filename));
  }
}

}  // namespace

OSError::OSError(int errno_value, std::string strerror, std::string filename)
    : OSError(std::error_code(errno_value, std::generic_category()), std::move(strerror), std::move(filename)) {}

OSError::OSError(std::string message)
    : std::system_error(std::error_code(), message), strerror_(message), what_(std::move(message)) {}

OSError::OSError(std::error_code code, std::string strerror, std::string filename)
    : std::system_error(code, strerror),
      errno_(code.value()),
      strerror_(std::move(strerror)),
      filename_(std::move(filename)),
      what_(os_error_text(errno_, strerror_, filename_)) {}

gaierror::gaierror(int eai_code, std::string strerror)
    : OSError(std::error_code(eai_code, gai_category()), std::move(strerror), {}) {}

const std::error_category& gai_category() noexcept {
  static const GaiCategory category;
  return category;
}

std::exception_ptr uv_error(int status, std::string filename) {
  for (const GaiCode& g : gai_codes) {
    if (g.uv == status) return std::make_exception_ptr(gaierror(g.eai, ::gai_strerror(g.eai)));
  }
  // On Unix every other UV_E* code but a few of libuv's own is -errno.
  if (status < 0 && status > -4000) return from_errno(-status, std::strerror(-status), std::move(filename));
  std::string text = std::string(uv_err_name(status)) + ": " + uv_strerror(status);
  if (!filename.empty()) text += ": '" + filename + "'";
  return std::make_exception_ptr(OSError(std::move(text)));
}

std::exception_ptr uv_error_text(int status, std::string text) {
  if (status < 0 && status > -4000) return from_errno(-status, std::move(text), {});
  return uv_error(status);
}

void throw_uv_error(int status, std::string filename) { std::rethrow_exception(uv_error(status, std::move(filename))); }

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
    : EOFError(std::to_string(partial.size()) + " bytes read on a total of " +
               (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
    : message_(std::move(message)), exceptions_(std::move(exceptions)) {
  if (exceptions_.empty()) throw std::invalid_argument("second argument (exceptions) must be a non-empty sequence");
  const std::size_t n = exceptions_.size();
  what_ = message_ + " (" + std::to_string(n) + (n == 1 ? " sub-exception)" : " sub-exceptions)");
}

bool detail::is_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
  }
  return false;
}

}  // namespace asyncuv
