#include "eval/unicode_text.h"

#include "tokenizer/utf8.h"

namespace blip2::eval {
namespace {

// Simple (one-to-one) lower-case mapping; see the header for the covered blocks.
char32_t lower_one(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x137) return (c % 2 == 0 && c != 0x130) ? c + 1 : c;
  if (c >= 0x139 && c <= 0x148) return (c % 2 == 1) ? c + 1 : c;
  if (c >= 0x14A && c <= 0x177) return (c % 2 == 0) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E) return (c % 2 == 1) ? c + 1 : c;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return (c % 2 == 0) ? c + 1 : c;
  if (c >= 0x531 && c <= 0x556) return c + 48;
  if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) {
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

}  // namespace

std::u32string utf8_decode(std::string_view text) {
  const std::string valid = utf8::decode_replace(text);
  std::u32string out;
  out.reserve(valid.size());
  size_t pos = 0;
  while (pos < valid.size()) out.push_back(utf8::next(valid, pos));
  return out;
}

std::vector<std::string> python_split(std::string_view text) {
  const std::string valid = utf8::decode_replace(text);
  std::vector<std::string> out;
  size_t word_start = std::string::npos;
  size_t pos = 0;
  while (pos < valid.size()) {
    const size_t start = pos;
    if (utf8::is_python_space(utf8::next(valid, pos))) {
      if (word_start != std::string::npos)
        out.push_back(valid.substr(word_start, start - word_start));
      word_start = std::string::npos;
    } else if (word_start == std::string::npos) {
      word_start = start;
    }
  }
  if (word_start != std::string::npos) out.push_back(valid.substr(word_start));
  return out;
}

std::vector<std::string> python_split_space(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t space = text.find(' ', start);
    if (space == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, space - start));
    start = space + 1;
  }
}

std::string python_strip(std::string_view text) {
  return std::string(utf8::strip(utf8::decode_replace(text)));
}

std::string unicode_lower(std::string_view text) {
  const std::string valid = utf8::decode_replace(text);
  std::string out;
  out.reserve(valid.size());
  size_t pos = 0;
  while (pos < valid.size()) {
    const char32_t cp = utf8::next(valid, pos);
    if (cp == 0x130) {
      // Capital I with dot above lower-cases to two code points (i + combining dot above).
      out.push_back('i');
      utf8::append(out, 0x307);
    } else {
      utf8::append(out, lower_one(cp));
    }
  }
  return out;
}

}  // namespace blip2::eval
