// Turns generated ids into text as they arrive, for printing a generation token by token:
//
//   StreamingDetokenizer stream(tokenizer);
//   for (int32_t id : generated) std::cout << stream.put(id) << std::flush;
//   std::cout << stream.flush();
//
// Guarantee: the pieces put() returns, followed by flush(), concatenate to exactly
// tokenizer.decode(ids) (special tokens skipped, clean-up as the tokenizer config says), and no
// piece ever ends inside a UTF-8 character.
//
// How: each put() decodes the whole sequence without clean-up and releases only the part that no
// later token can change, holding back
// - trailing U+FFFD: a multi-byte character split across byte tokens (emoji are 4 byte tokens)
//   decodes to U+FFFD until it is complete;
// - trailing whitespace: T5's decode strips it, and the clean-up may delete it (" ." -> ".");
// - every space in the last 3 bytes: whether the clean-up deletes a space depends on the 3 bytes
//   after it (" n't", " ' ", ...), so a space is released once those are known.
// The clean-up is applied incrementally: it runs on the whole text decoded so far and the released
// prefix is mapped through it, so a released space is one that the final decode() keeps.
// Re-decoding costs O(sequence length) per token: microseconds for caption-length outputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace blip2 {

class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer);

  // Adds one id; returns the text that became final (often empty). Error(kInvalidArgument) for a
  // negative id; ids outside the tokenizer decode to nothing (see tokenizer.h).
  std::string put(int32_t id);
  // Ends the sequence: returns the rest of decode(ids) and starts a new, empty sequence.
  std::string flush();
  // Drops the sequence without returning its rest.
  void reset();

  const std::vector<int32_t>& ids() const { return ids_; }
  // Everything returned so far for the current sequence.
  const std::string& emitted() const { return emitted_; }

 private:
  const Tokenizer& tokenizer_;
  std::vector<int32_t> ids_;
  std::string emitted_;
};

}  // namespace blip2
