// UTF-8 helpers with Python's semantics, which the reference tokenizers run on: decoding with
// errors="replace" (one U+FFFD per maximal invalid subpart, as CPython's UTF-8 codec does) and
// str.isspace / str.strip whitespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blip2::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Byte offset of the first invalid sequence in `text`, or nullopt when it is valid UTF-8
// (no overlong forms, no surrogates, nothing above U+10FFFF).
std::optional<size_t> find_invalid(std::string_view text);

// Decodes bytes as Python's bytes.decode("utf-8", errors="replace"): every maximal subpart of an
// ill-formed sequence becomes one U+FFFD, a sequence cut off at the end included.
std::string decode_replace(std::string_view bytes);

// Appends the UTF-8 encoding of `cp` (cp <= 0x10FFFF).
void append(std::string& out, uint32_t cp);

// Decodes the code point at text[pos] of a valid UTF-8 string and advances pos past it.
uint32_t next(std::string_view text, size_t& pos);

// Python's str.isspace() for one code point.
bool is_python_space(uint32_t cp);

// Python's str.lstrip() / rstrip() / strip() without arguments, on valid UTF-8.
std::string_view lstrip(std::string_view text);
std::string_view rstrip(std::string_view text);
inline std::string_view strip(std::string_view text) {
  return lstrip(rstrip(text));
}

}  // namespace blip2::utf8
