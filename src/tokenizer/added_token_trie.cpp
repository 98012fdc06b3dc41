#include "tokenizer/added_token_trie.h"

#include <algorithm>

namespace blip2 {

AddedTokenTrie::AddedTokenTrie() : nodes_(1) {}

int32_t AddedTokenTrie::child(int32_t node, uint8_t byte) const {
  for (const auto& [b, next] : nodes_[static_cast<size_t>(node)].children) {
    if (b == byte) return next;
  }
  return -1;
}

void AddedTokenTrie::add(std::string_view word) {
  if (word.empty()) return;
  int32_t node = 0;
  for (const char c : word) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      nodes_[static_cast<size_t>(node)].children.emplace_back(byte, next);
    }
    node = next;
  }
  nodes_[static_cast<size_t>(node)].terminal = true;
}

std::vector<std::string_view> AddedTokenTrie::split(std::string_view text) const {
  // The scan mirrors the reference step by step (including its handling of partial matches that
  // fail in the same step as another one completes), so that every id matches even in corner cases.
  struct State {
    size_t start;  // where the partial match began
    int32_t node;  // how far into the trie it got
  };
  const size_t n = text.size();
  const auto at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto terminal = [&](int32_t node) { return nodes_[static_cast<size_t>(node)].terminal; };

  std::vector<State> states;  // ordered by start, like the reference's OrderedDict
  std::vector<size_t> offsets = {0};
  std::vector<size_t> to_remove;
  size_t skip = 0;
  for (size_t current = 0; current < n; ++current) {
    if (skip != 0 && current < skip) continue;  // inside a match found by the lookahead
    const uint8_t current_char = at(current);
    to_remove.clear();
    bool reset = false;
    for (State& state : states) {
      size_t start = state.start;
      if (terminal(state.node)) {
        // A match is complete: look for the longest match among this and earlier partial matches.
        size_t end = current;
        for (const State& look : states) {
          const size_t lookstart = look.start;
          int32_t looknode = look.node;
          size_t lookahead_index;
          if (lookstart > start) break;
          if (lookstart < start) {
            // An earlier partial match was already advanced over `current`.
            lookahead_index = current + 1;
            end = current + 1;
          } else {
            lookahead_index = current;
            end = current;
          }
          if (terminal(looknode)) {
            start = lookstart;
            end = lookahead_index;
            skip = lookahead_index;
          }
          while (lookahead_index < n) {
            const int32_t next = child(looknode, at(lookahead_index));
            if (next < 0) break;
            looknode = next;
            ++lookahead_index;
            if (terminal(looknode)) {
              start = lookstart;
              end = lookahead_index;
              skip = lookahead_index;
            }
          }
        }
        offsets.push_back(start);
        offsets.push_back(end);
        reset = true;
        break;
      }
      const int32_t next = child(state.node, current_char);
      if (next >= 0) {
        state.node = next;
      } else {
        to_remove.push_back(start);
      }
    }
    if (reset) {
      states.clear();
    } else if (!to_remove.empty()) {
      std::erase_if(states, [&](const State& s) {
        return std::find(to_remove.begin(), to_remove.end(), s.start) != to_remove.end();
      });
    }
    if (current >= skip) {
      const int32_t first = child(0, current_char);
      if (first >= 0) states.push_back({current, first});
    }
  }
  // A match that runs to the end of the text.
  for (const State& state : states) {
    if (terminal(state.node)) {
      offsets.push_back(state.start);
      offsets.push_back(n);
      break;
    }
  }

  // cut_text: zero-width and backwards cuts are dropped.
  offsets.push_back(n);
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (const size_t end : offsets) {
    if (start >= end) continue;
    parts.push_back(text.substr(start, end - start));
    start = end;
  }
  return parts;
}

}  // namespace blip2
