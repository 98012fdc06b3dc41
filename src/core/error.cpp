#include "core/error.h"

namespace blip2 {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kFormat:
      return "bad format";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kResource:
      return "limit exceeded";
    case ErrorKind::kInternal:
      return "internal error";
  }
  return "error";
}

}  // namespace blip2
