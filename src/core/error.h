// One error mechanism for the whole library: every failure caused by input (files, images, configs,
// requests, flags) is a blip2::Error carrying a kind and a message that says what went wrong, where,
// and what to do about it. The CLI maps it to a one-line message and a non-zero exit; the server to
// a 4xx. Internal invariant breaks use ErrorKind::kInternal.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace blip2 {

enum class ErrorKind {
  kInvalidArgument,  // a request, flag or value that cannot be used
  kNotFound,         // a file, tensor, token or model that does not exist
  kFormat,           // a file that exists but is corrupt, truncated or malformed
  kUnsupported,      // valid input that this build does not handle
  kResource,         // a limit was hit (size, memory, pixel count)
  kInternal,         // a bug: an invariant of our own code broke
};

std::string_view error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Concatenates anything streamable into a string: str_cat("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, Args&&... args) {
  throw Error(kind, str_cat(std::forward<Args>(args)...));
}

// Checks an internal invariant; throws kInternal with the location when it breaks.
#define BLIP2_CHECK(cond, ...)                                                 \
  do {                                                                         \
    if (!(cond))                                                               \
      ::blip2::fail(::blip2::ErrorKind::kInternal, __FILE__, ":", __LINE__,    \
                    ": check failed: ", #cond " " __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

}  // namespace blip2
