// Splits text around added tokens exactly as transformers' tokenization_utils.Trie.split does
// (4.40.2): a left-to-right scan that keeps every partial match, takes the first completed one,
// and looks ahead from the earliest partial match for the longest token ("<extra_id_1>" vs
// "<extra_id_10>"). It works on UTF-8 bytes; since token texts are whole UTF-8 strings, matches
// fall on the same character boundaries as Python's per-character scan.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace blip2 {

class AddedTokenTrie {
 public:
  AddedTokenTrie();
  void add(std::string_view word);  // empty words are ignored, adding twice is harmless
  // The text cut at the boundaries of the tokens found; concatenating the parts gives `text` back.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // byte -> node index, few per node
    bool terminal = false;
  };
  int32_t child(int32_t node, uint8_t byte) const;  // -1 if none
  std::vector<Node> nodes_;                         // nodes_[0] is the root
};

}  // namespace blip2
