#include "tokenizer/streaming_detokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace blip2 {
namespace {

// The longest clean-up pattern is 4 bytes (" n't", " 've", " 're"): a space's fate depends on the
// 3 bytes after it (for " ' " through the fate of the second space, which depends on one more byte,
// still within 3 of the first).
constexpr size_t kCleanUpLookahead = 3;

// Length of `text` without its trailing U+FFFD characters.
size_t without_trailing_replacements(std::string_view text) {
  size_t end = text.size();
  while (end >= utf8::kReplacement.size() &&
         text.substr(end - utf8::kReplacement.size(), utf8::kReplacement.size()) ==
             utf8::kReplacement) {
    end -= utf8::kReplacement.size();
  }
  return end;
}

}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

std::string StreamingDetokenizer::put(int32_t id) {
  if (id < 0) {
    fail(ErrorKind::kInvalidArgument, "cannot stream token id ", id,
         ": ids are >= 0; pass the ids the model produced");
  }
  ids_.push_back(id);

  DecodeOptions raw_options;
  raw_options.skip_special_tokens = true;
  raw_options.clean_up_tokenization_spaces = false;
  const std::string raw = tokenizer_.decode(ids_, raw_options);

  // What is known for good: everything but a pending multi-byte character.
  const size_t known = without_trailing_replacements(raw);
  // What is final: also without the trailing whitespace and the spaces the clean-up may still
  // remove. All cut points fall on character boundaries.
  size_t cut = utf8::rstrip(std::string_view(raw).substr(0, known)).size();
  const bool clean_up = tokenizer_.clean_up_tokenization_spaces();
  if (clean_up) {
    for (size_t p = known > kCleanUpLookahead ? known - kCleanUpLookahead : 0; p < cut; ++p) {
      if (raw[p] == ' ') {
        cut = p;
        break;
      }
    }
  }

  std::string final_text;
  if (clean_up) {
    std::vector<uint32_t> origins;
    final_text = clean_up_tokenization(std::string_view(raw).substr(0, known), &origins);
    const auto kept = std::lower_bound(origins.begin(), origins.end(), static_cast<uint32_t>(cut));
    final_text.resize(static_cast<size_t>(kept - origins.begin()));
  } else {
    final_text = raw.substr(0, cut);
  }
  if (final_text.size() <= emitted_.size()) return {};
  BLIP2_CHECK(final_text.compare(0, emitted_.size(), emitted_) == 0,
              "streamed text is not a prefix of the decoded text");
  std::string piece = final_text.substr(emitted_.size());
  emitted_ = std::move(final_text);
  return piece;
}

std::string StreamingDetokenizer::flush() {
  const std::string full = tokenizer_.decode(ids_, true);
  BLIP2_CHECK(full.compare(0, emitted_.size(), emitted_) == 0,
              "streamed text is not a prefix of the decoded text");
  std::string rest = full.substr(emitted_.size());
  reset();
  return rest;
}

void StreamingDetokenizer::reset() {
  ids_.clear();
  emitted_.clear();
}

}  // namespace blip2
