// Text helpers the evaluation code needs to behave like the Python and Java reference tools:
// Python's whitespace semantics (str.split(), str.split(" "), str.strip()) and a lower-casing
// that covers the scripts captions and VQA answers are written in. Built on tokenizer/utf8.h;
// invalid UTF-8 is read with U+FFFD in place of bad bytes, so nothing here throws on any input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace blip2::eval {

// The code points of `text` (invalid bytes read as U+FFFD, as Python's errors="replace").
std::u32string utf8_decode(std::string_view text);

// Python's str.split() with no argument: split on runs of Unicode whitespace, no empty pieces.
std::vector<std::string> python_split(std::string_view text);

// Python's str.split(" "): split on every single ASCII space, keeping empty pieces.
std::vector<std::string> python_split_space(std::string_view text);

// Python's str.strip() with no argument.
std::string python_strip(std::string_view text);

// Lower-cases like Java's String.toLowerCase() / Python's str.lower() for Latin (with Latin-1,
// Extended-A and Extended Additional), Greek, Cyrillic, Armenian and full-width letters; other
// code points are returned unchanged (a simple per-character mapping: no final-sigma rule).
std::string unicode_lower(std::string_view text);

}  // namespace blip2::eval
