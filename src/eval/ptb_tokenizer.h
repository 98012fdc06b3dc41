// The caption tokenizer of the COCO caption toolkit, natively.
//
//   std::string t = blip2::eval::coco_tokenize("A man riding a wave on top of a surfboard.");
//   // t == "a man riding a wave on top of a surfboard"
//
// pycocoevalcap (tokenizer/ptbtokenizer.py) runs Stanford CoreNLP 3.4.1's PTBTokenizer with
// `-preserveLines -lowerCase` on the captions, one per line, then drops the tokens in its
// PUNCTUATIONS list and joins the rest with single spaces. Every caption metric is computed on
// that output, so reproducing it (quirks included: kept "-lrb-" brackets, "mr." with its period,
// "ca n't", "gon na", "u.s. ." ...) is what makes the numbers equal to the official ones.
//
// ptb_tokenize() emulates the PTBLexer JFlex specification: an ordered list of rules, longest
// match wins (trailing context counts towards the length), ties go to the earlier rule. See
// docs/eval.md for the rules reproduced and the known limits of the emulation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace blip2::eval {

// The tokens PTBTokenizer 3.4.1 (`-preserveLines -lowerCase`) prints for one line of text,
// lower-cased. Line breaks inside `line` are treated as spaces. Input that is not valid UTF-8 is
// read with U+FFFD in place of bad bytes. Never throws on any input.
std::vector<std::string> ptb_tokenize(std::string_view line);

// True if pycocoevalcap's PTBTokenizer drops this token: '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ?
// ! , : - -- ... ; (exact, case-sensitive: the lower-cased "-lrb-" is kept).
bool is_coco_punctuation(std::string_view token);

// pycocoevalcap's tokenization of one caption: '\n' -> ' ', PTB tokens, punctuation filter,
// joined with single spaces ("" when nothing is left).
std::string coco_tokenize(std::string_view caption);

}  // namespace blip2::eval
