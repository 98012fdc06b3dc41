#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/utf8.h"

namespace blip2 {
namespace {

using nlohmann::json;

// GPT-2's pre-tokenization pattern. Python's `regex` module, which GPT2Tokenizer uses, takes \s to
// be the Unicode White_Space property; PCRE2's \s (even with UCP) is the separator categories plus
// ASCII controls and lacks U+0085, so the set is spelled out.
#define BLIP2_WS                                                                     \
  "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
  "\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" BLIP2_WS "\\p{L}\\p{N}]+|[" BLIP2_WS
    "]+(?![^" BLIP2_WS "])|[" BLIP2_WS "]+";
#undef BLIP2_WS

void add_vocab_entry(BpeModel& model, std::unordered_map<int32_t, std::string>& seen_ids,
                     const std::string& token, const json& value, const std::string& where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX) {
    fail(ErrorKind::kFormat, where, ": the id of token \"", token,
         "\" must be a non-negative integer, got ", value.dump(),
         "; restore the file from the checkpoint");
  }
  const auto id = static_cast<int32_t>(value.get<int64_t>());
  if (const auto [it, inserted] = seen_ids.emplace(id, token); !inserted) {
    fail(ErrorKind::kFormat, where, ": tokens \"", it->second, "\" and \"", token,
         "\" have the same id ", id, "; restore the file from the checkpoint");
  }
  model.vocab.emplace(token, id);
}

void read_vocab_object(BpeModel& model, const json& vocab, const std::string& where) {
  if (!vocab.is_object()) {
    fail(ErrorKind::kFormat, where, " must map token strings to ids; restore the file from the ",
         "checkpoint");
  }
  std::unordered_map<int32_t, std::string> seen_ids;
  for (const auto& [token, value] : vocab.items()) {
    add_vocab_entry(model, seen_ids, token, value, where);
  }
  if (model.vocab.empty()) {
    fail(ErrorKind::kFormat, where, " has no tokens; restore the file from the checkpoint");
  }
}

// "a b" -> {"a", "b"}: exactly two symbols separated by spaces or tabs.
bool split_merge(std::string_view line, std::pair<std::string, std::string>& out) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    const size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
    if (pos > start) parts.push_back(line.substr(start, pos - start));
  }
  if (parts.size() != 2) return false;
  out = {std::string(parts[0]), std::string(parts[1])};
  return true;
}

}  // namespace

BpeModel read_bpe_files(const std::string& vocab_json, const std::string& merges_txt) {
  BpeModel model;
  model.source = vocab_json + " + " + merges_txt;
  read_vocab_object(model, read_json_file(vocab_json), vocab_json);

  const std::string text = read_text_file(merges_txt);
  if (const auto bad = utf8::find_invalid(text)) {
    fail(ErrorKind::kFormat, merges_txt, " is not UTF-8 text (byte ", *bad,
         "); restore the file from the checkpoint");
  }
  size_t pos = 0;
  int line_no = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // The "#version: 0.2" header (GPT2Tokenizer drops the first line unconditionally; a merges file
    // without the header would lose its first merge there, so only a '#' line is skipped here).
    if (line_no == 1 && line.starts_with("#")) continue;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    std::pair<std::string, std::string> merge;
    if (!split_merge(line, merge)) {
      fail(ErrorKind::kFormat, merges_txt, " line ", line_no,
           ": expected two symbols separated by a space, got \"", line,
           "\"; restore the file from the checkpoint");
    }
    model.merges.push_back(std::move(merge));
  }
  return model;
}

BpeModel read_bpe_tokenizer_json(const std::string& path) {
  const json file = read_json_file(path);
  if (!file.is_object() || !file.contains("model") || !file["model"].is_object()) {
    fail(ErrorKind::kFormat, path,
         " has no \"model\" object; restore the file from the checkpoint");
  }
  const json& m = file["model"];
  if (m.contains("type") && m["type"] != "BPE") {
    fail(ErrorKind::kUnsupported, path, ": model type ", m["type"].dump(),
         " is not BPE; the GPT-2 tokenizer needs a byte-level BPE tokenizer.json");
  }
  BpeModel model;
  model.source = path;
  if (!m.contains("vocab")) {
    fail(ErrorKind::kFormat, path,
         ": model.vocab is missing; restore the file from the checkpoint");
  }
  read_vocab_object(model, m["vocab"], path + ": model.vocab");
  if (!m.contains("merges") || !m["merges"].is_array()) {
    fail(ErrorKind::kFormat, path, ": model.merges must be a list; restore the file from the ",
         "checkpoint");
  }
  const json& merges = m["merges"];
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& entry = merges[i];
    std::pair<std::string, std::string> merge;
    bool ok = false;
    if (entry.is_string()) {
      ok = split_merge(entry.get<std::string>(), merge);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      merge = {entry[0].get<std::string>(), entry[1].get<std::string>()};
      ok = !merge.first.empty() && !merge.second.empty();
    }
    if (!ok) {
      fail(ErrorKind::kFormat, path, ": model.merges[", i, "] must be \"a b\" or [\"a\", \"b\"], ",
           "got ", entry.dump(), "; restore the file from the checkpoint");
    }
    model.merges.push_back(std::move(merge));
  }
  return model;
}

class BpeTokenizer::PreTokenizer {
 public:
  PreTokenizer() {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF, &error, &offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      fail(ErrorKind::kInternal, "GPT-2 pre-tokenizer regex does not compile at offset ", offset,
           ": ", reinterpret_cast<const char*>(message));
    }
    // The JIT makes matching several times faster; without it (unsupported CPU) PCRE2 interprets.
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  ~PreTokenizer() { pcre2_code_free(code_); }
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // re.findall: calls f(piece) for each match, left to right. `text` is valid UTF-8.
  template <typename F>
  void for_each(std::string_view text, F&& f) const {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_, nullptr);
    if (match == nullptr) fail(ErrorKind::kResource, "out of memory for regex match data");
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    while (offset < text.size()) {
      const int rc =
          pcre2_match(code_, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        pcre2_match_data_free(match);
        fail(ErrorKind::kInternal, "GPT-2 pre-tokenizer regex failed with PCRE2 error ", rc);
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
      if (ovector[1] <= ovector[0]) break;  // cannot happen: every alternative consumes text
      f(text.substr(ovector[0], ovector[1] - ovector[0]));
      offset = ovector[1];
    }
    pcre2_match_data_free(match);
  }

 private:
  pcre2_code* code_ = nullptr;
};

BpeTokenizer::~BpeTokenizer() = default;

int32_t BpeTokenizer::intern(const std::string& symbol) {
  const auto [it, inserted] =
      symbol_index_.emplace(symbol, static_cast<int32_t>(symbol_text_.size()));
  if (inserted) symbol_text_.push_back(symbol);
  return it->second;
}

BpeTokenizer::BpeTokenizer(BpeModel model, const TokenizerConfig& config)
    : encoder_(std::move(model.vocab)), pre_tokenizer_(std::make_unique<PreTokenizer>()) {
  for (const auto& [token, id] : encoder_) decoder_.emplace(id, token);

  add_bos_token_ = config.get_bool("add_bos_token", false);
  add_prefix_space_ = config.get_bool("add_prefix_space", false);
  const std::string errors = config.get_string("errors", "replace");
  if (errors != "replace") {
    fail(ErrorKind::kUnsupported, config.dir, "/tokenizer_config.json: errors=\"", errors,
         "\"; only \"replace\" (the GPT-2 default) is supported, remove the key or set it so");
  }

  // bytes_to_unicode(): printable bytes map to themselves, the others to 256, 257, ... in order.
  char_to_byte_.assign(256 + 68, -1);
  uint32_t next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    byte_to_char_[static_cast<size_t>(b)] = printable ? static_cast<uint32_t>(b) : next_extra++;
    char_to_byte_[byte_to_char_[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
  }
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    utf8::append(symbol, byte_to_char_[static_cast<size_t>(b)]);
    byte_symbol_[static_cast<size_t>(b)] = intern(symbol);
  }
  // Ranks are positions in the list; a repeated merge keeps its last rank (Python's dict(zip)).
  for (size_t rank = 0; rank < model.merges.size(); ++rank) {
    const auto& [left, right] = model.merges[rank];
    const int32_t l = intern(left), r = intern(right), result = intern(left + right);
    merges_[pair_key(l, r)] = {static_cast<int32_t>(rank), result};
  }

  // GPT2Tokenizer wraps bos/eos/unk/pad strings in AddedToken objects; its defaults are
  // <|endoftext|> for bos, eos and unk.
  SpecialTokens specials;
  for (int a = 0; a < kNumSpecialAttrs; ++a) {
    const auto attr = static_cast<SpecialAttr>(a);
    const bool wrapped = attr == SpecialAttr::kBos || attr == SpecialAttr::kEos ||
                         attr == SpecialAttr::kUnk || attr == SpecialAttr::kPad;
    const auto value = config.special(attr);
    if (value.has_value()) {
      specials.named[a] = *value;
    } else if (attr == SpecialAttr::kBos || attr == SpecialAttr::kEos ||
               attr == SpecialAttr::kUnk) {
      specials.named[a] = SpecialTokenValue{AddedToken{.content = "<|endoftext|>"}, true};
    }
    if (wrapped && specials.named[a]) specials.named[a]->is_object = true;
  }
  if (auto additional = config.additional_special_tokens()) specials.additional = *additional;
  if (specials.named[static_cast<int>(SpecialAttr::kUnk)]) {
    unk_text_ = specials.named[static_cast<int>(SpecialAttr::kUnk)]->token.content;
  }
  init_tokens(config, specials, {});

  if (add_bos_token_ && !bos_id) {
    fail(ErrorKind::kFormat, config.dir,
         "/tokenizer_config.json sets add_bos_token but defines no bos_token; add one");
  }
  symbol_id_.resize(symbol_text_.size());
  for (size_t s = 0; s < symbol_text_.size(); ++s) {
    symbol_id_[s] = convert_token_to_id(symbol_text_[s]).value_or(-1);
  }
}

std::string BpeTokenizer::prepare_for_tokenization(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + 1);
  if (add_prefix_space_) out.push_back(' ');
  out.append(text);
  return out;
}

void BpeTokenizer::tokenize_text(std::string_view text, std::vector<int32_t>& ids) const {
  pre_tokenizer_->for_each(text, [&](std::string_view piece) { bpe(piece, ids); });
}

void BpeTokenizer::bpe(std::string_view piece, std::vector<int32_t>& ids) const {
  const auto emit = [&](int32_t symbol) {
    const int32_t id = symbol_id_[static_cast<size_t>(symbol)];
    if (id < 0) {
      fail(ErrorKind::kInvalidArgument, "cannot encode: BPE symbol \"",
           symbol_text_[static_cast<size_t>(symbol)], "\" is not in the vocabulary of ", dir_,
           " and the tokenizer has no unk token in it; check the tokenizer files");
    }
    ids.push_back(id);
  };
  const auto n = static_cast<int32_t>(piece.size());
  if (n == 1) {
    emit(byte_symbol_[static_cast<uint8_t>(piece[0])]);
    return;
  }

  // A linked list of symbols (one per byte at first) and a min-heap of mergeable neighbours keyed
  // by (rank, position). Popping all entries of the lowest rank in position order merges every
  // occurrence of that pair left to right, as GPT2Tokenizer.bpe does in one pass; pairs created by
  // those merges join the heap only afterwards, when the reference would look for the next pair.
  struct Symbol {
    int32_t symbol;  // -1 once merged into its left neighbour
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, pos, left, right, result;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Symbol> symbols(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    symbols[static_cast<size_t>(i)] = {
        byte_symbol_[static_cast<uint8_t>(piece[static_cast<size_t>(i)])], i - 1,
        i + 1 < n ? i + 1 : -1};
  }
  std::vector<Candidate> heap;
  // Adds the pair starting at `pos` to the heap's storage if it can merge.
  const auto consider = [&](int32_t pos) {
    const Symbol& left = symbols[static_cast<size_t>(pos)];
    if (left.next < 0) return false;
    const Symbol& right = symbols[static_cast<size_t>(left.next)];
    const auto it = merges_.find(pair_key(left.symbol, right.symbol));
    if (it == merges_.end()) return false;
    heap.push_back({it->second.rank, pos, left.symbol, right.symbol, it->second.result});
    return true;
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  std::vector<int32_t> touched;  // positions whose pairs changed during this round
  while (!heap.empty()) {
    const int32_t rank = heap.front().rank;
    touched.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      const Candidate c = heap.back();
      heap.pop_back();
      Symbol& left = symbols[static_cast<size_t>(c.pos)];
      if (left.symbol != c.left || left.next < 0) continue;  // stale
      Symbol& right = symbols[static_cast<size_t>(left.next)];
      if (right.symbol != c.right) continue;  // stale
      left.symbol = c.result;
      right.symbol = -1;
      left.next = right.next;
      if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = c.pos;
      if (left.prev >= 0) touched.push_back(left.prev);
      touched.push_back(c.pos);
    }
    for (const int32_t pos : touched) {
      if (symbols[static_cast<size_t>(pos)].symbol < 0) continue;
      if (consider(pos)) std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    emit(symbols[static_cast<size_t>(i)].symbol);
  }
}

std::vector<int32_t> BpeTokenizer::build_inputs_with_special_tokens(
    std::vector<int32_t> ids) const {
  if (add_bos_token_) ids.insert(ids.begin(), *bos_id);
  return ids;
}

std::optional<std::string> BpeTokenizer::model_id_to_token(int32_t id) const {
  const auto it = decoder_.find(id);
  if (it == decoder_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> BpeTokenizer::model_token_to_id(std::string_view token) const {
  const auto it = encoder_.find(std::string(token));
  if (it == encoder_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> BpeTokenizer::model_token_to_id_or_unk(std::string_view token) const {
  if (auto id = model_token_to_id(token)) return id;
  return model_token_to_id(unk_text_);
}

void BpeTokenizer::visit_model_vocab(
    const std::function<void(const std::string&, int32_t)>& visit) const {
  for (const auto& [token, id] : encoder_) visit(token, id);
}

std::string BpeTokenizer::tokens_to_string(std::vector<std::string> tokens) const {
  std::string bytes;
  for (const std::string& token : tokens) {
    size_t pos = 0;
    while (pos < token.size()) {
      const size_t start = pos;
      const uint32_t cp = utf8::next(token, pos);
      if (cp < char_to_byte_.size() && char_to_byte_[cp] >= 0) {
        bytes.push_back(static_cast<char>(char_to_byte_[cp]));
      } else {
        // Not a byte symbol (an added token's own characters): transformers would fail with a
        // KeyError; its UTF-8 is the only sensible rendering.
        bytes.append(token, start, pos - start);
      }
    }
  }
  return utf8::decode_replace(bytes);
}

}  // namespace blip2
