#include "bench/random_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"

// libsentencepiece logs every training step to stderr; the setter is exported by the library but
// not declared in its public headers (0.1.97).
namespace sentencepiece::logging {
int GetMinLogLevel();
void SetMinLogLevel(int v);
}  // namespace sentencepiece::logging

namespace blip2::bench {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------- corpus

constexpr const char* kColors[] = {"red",   "green", "blue",   "yellow", "white", "black",
                                   "brown", "gray",  "orange", "purple", "pink",  "silver"};
constexpr const char* kAdjectives[] = {"small", "large", "old",   "young",  "wooden", "shiny",
                                       "tall",  "empty", "happy", "bright", "dark",   "wet",
                                       "busy",  "quiet", "long",  "round",  "square", "striped"};
// Singular, plural.
constexpr const char* kObjects[][2] = {{"dog", "dogs"},
                                       {"cat", "cats"},
                                       {"man", "men"},
                                       {"woman", "women"},
                                       {"child", "children"},
                                       {"horse", "horses"},
                                       {"bird", "birds"},
                                       {"car", "cars"},
                                       {"bus", "buses"},
                                       {"train", "trains"},
                                       {"boat", "boats"},
                                       {"plane", "planes"},
                                       {"bicycle", "bicycles"},
                                       {"table", "tables"},
                                       {"chair", "chairs"},
                                       {"couch", "couches"},
                                       {"pizza", "pizzas"},
                                       {"cake", "cakes"},
                                       {"sandwich", "sandwiches"},
                                       {"banana", "bananas"},
                                       {"apple", "apples"},
                                       {"umbrella", "umbrellas"},
                                       {"kite", "kites"},
                                       {"clock", "clocks"},
                                       {"laptop", "laptops"},
                                       {"phone", "phones"},
                                       {"book", "books"},
                                       {"cup", "cups"},
                                       {"plate", "plates"},
                                       {"giraffe", "giraffes"},
                                       {"elephant", "elephants"},
                                       {"zebra", "zebras"},
                                       {"sheep", "sheep"},
                                       {"cow", "cows"},
                                       {"bear", "bears"},
                                       {"tree", "trees"},
                                       {"flower", "flowers"},
                                       {"building", "buildings"},
                                       {"house", "houses"},
                                       {"street", "streets"},
                                       {"square", "squares"},
                                       {"circle", "circles"},
                                       {"triangle", "triangles"},
                                       {"player", "players"},
                                       {"skateboard", "skateboards"},
                                       {"surfboard", "surfboards"},
                                       {"motorcycle", "motorcycles"},
                                       {"window", "windows"}};
constexpr const char* kActions[] = {
    "sitting on",  "standing next to", "walking along", "lying on",        "riding",
    "holding",     "looking at",       "eating",        "playing with",    "parked near",
    "flying over", "running across",   "swimming in",   "leaning against", "hanging above"};
constexpr const char* kPlaces[] = {"the beach",   "a field",         "the kitchen", "a city street",
                                   "the park",    "a living room",   "the snow",    "a river",
                                   "the airport", "a parking lot",   "the grass",   "a table",
                                   "the water",   "a train station", "the sky",     "a forest"};
constexpr const char* kQuestions[] = {"what is in the image?",    "what color is the {o}?",
                                      "how many {os} are there?", "where is the {o}?",
                                      "what is the {o} doing?",   "is there a {o} in the picture?"};
constexpr const char* kTemplates[] = {
    "a {a} {c} {o} {v} {p}.",
    "a photo of a {c} {o} {v} {p}",
    "{n} {os} {v} {p}.",
    "there is a {o} next to a {c} {o2} in {p}",
    "A {a} {o} and a {a2} {o2} {v} {p}.",
    "Question: {q} Answer: {c}",
    "Question: {q} Short answer: {n}",
    "two {os} and {n} {os2} near {p}, on a {a} day",
    "the {o} is {c}; the {o2} is {c2}!",
    "an image of {p} with {n} {a} {os}",
};

template <size_t N>
const char* pick(const char* const (&list)[N], std::mt19937& rng) {
  return list[rng() % N];
}

std::string replace_all(std::string s, const std::string& key, const std::string& value) {
  for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + value.size()))
    s.replace(pos, key.size(), value);
  return s;
}

// ------------------------------------------------------------------------------------- BPE

// GPT-2's pre-tokenization, simplified for the ASCII corpus: letters, digits or punctuation runs,
// each with the space before it.
std::vector<std::string> pre_tokenize(const std::string& text) {
  std::vector<std::string> pieces;
  auto kind = [](unsigned char c) { return std::isalpha(c) ? 1 : std::isdigit(c) ? 2 : 3; };
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    if (text[i] == ' ' && i + 1 < text.size() && text[i + 1] != ' ') ++i;
    if (text[i] == ' ') {
      ++i;
    } else {
      const int k = kind(static_cast<unsigned char>(text[i]));
      while (i < text.size() && text[i] != ' ' && kind(static_cast<unsigned char>(text[i])) == k)
        ++i;
    }
    pieces.push_back(text.substr(start, i - start));
  }
  return pieces;
}

// Learns up to `max_merges` merges from the corpus (most frequent pair first; ties broken by the
// pair's text so the result does not depend on hash order). Stops when no pair occurs twice.
std::vector<std::pair<std::string, std::string>> learn_bpe(const std::vector<std::string>& corpus,
                                                           size_t max_merges) {
  const auto& sym = gpt2_byte_symbols();
  std::map<std::string, int64_t> piece_counts;
  for (const std::string& s : corpus)
    for (const std::string& p : pre_tokenize(s)) ++piece_counts[p];
  struct Word {
    std::vector<std::string> symbols;
    int64_t count;
  };
  std::vector<Word> words;
  for (const auto& [piece, count] : piece_counts) {
    Word w{{}, count};
    for (unsigned char c : piece) w.symbols.push_back(sym[c]);
    words.push_back(std::move(w));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  while (merges.size() < max_merges) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.symbols.size(); ++i)
        pairs[{w.symbols[i], w.symbols[i + 1]}] += w.count;
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (best == pairs.end() || it->second > best->second) best = it;
    if (best == pairs.end() || best->second < 2) break;
    const auto [left, right] = best->first;
    merges.emplace_back(left, right);
    for (Word& w : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < w.symbols.size(); ++i) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == left && w.symbols[i + 1] == right) {
          out.push_back(left + right);
          ++i;
        } else {
          out.push_back(w.symbols[i]);
        }
      }
      w.symbols = std::move(out);
    }
  }
  return merges;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out)
    fail(ErrorKind::kResource, "cannot write ", path.string(),
         "; check the folder and free disk space");
}

void write_json(const fs::path& path, const json& j) {
  write_text(path, j.dump(2) + "\n");
}

json added_token(const std::string& content, bool normalized, bool strip = false) {
  return json{{"content", content}, {"lstrip", strip},      {"normalized", normalized},
              {"rstrip", strip},    {"single_word", false}, {"special", true}};
}

int64_t write_bpe_tokenizer(const fs::path& dir, int64_t vocab_size) {
  // 4 specials + 256 bytes + merges must fit the model vocabulary.
  constexpr int64_t kBase = 4 + 256;
  if (vocab_size < kBase)
    fail(ErrorKind::kInvalidArgument, "a byte-level BPE tokenizer needs a vocabulary of at least ",
         kBase, " ids, but text_config.vocab_size is ", vocab_size);
  const size_t max_merges = static_cast<size_t>(std::min<int64_t>(4000, vocab_size - kBase));
  const auto merges = learn_bpe(builtin_corpus(), max_merges);

  json vocab = json::object();
  int32_t id = 0;
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) vocab[s] = id++;
  // bytes_to_unicode order: the printable bytes first, then the others by value.
  const auto& sym = gpt2_byte_symbols();
  std::vector<int> order;
  for (int b = 0; b < 256; ++b)
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) order.push_back(b);
  for (int b = 0; b < 256; ++b)
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) order.push_back(b);
  for (int b : order) vocab[sym[b]] = id++;
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [l, r] : merges) {
    vocab[l + r] = id++;
    merges_txt += l + " " + r + "\n";
  }
  write_json(dir / "vocab.json", vocab);
  write_text(dir / "merges.txt", merges_txt);
  const json special = {{"content", "</s>"},
                        {"lstrip", false},
                        {"normalized", true},
                        {"rstrip", false},
                        {"single_word", false}};
  json pad = special;
  pad["content"] = "<pad>";
  write_json(dir / "special_tokens_map.json", json{{"bos_token", special},
                                                   {"eos_token", special},
                                                   {"pad_token", pad},
                                                   {"unk_token", special}});
  write_json(dir / "tokenizer_config.json",
             json{{"add_bos_token", true},
                  {"add_prefix_space", false},
                  {"added_tokens_decoder",
                   {{"1", added_token("<pad>", true)}, {"2", added_token("</s>", true)}}},
                  {"bos_token", "</s>"},
                  {"clean_up_tokenization_spaces", true},
                  {"eos_token", "</s>"},
                  {"errors", "replace"},
                  {"pad_token", "<pad>"},
                  {"processor_class", "Blip2Processor"},
                  {"tokenizer_class", "GPT2Tokenizer"},
                  {"unk_token", "</s>"}});
  return id;
}

// -------------------------------------------------------------------------------------
// SentencePiece

class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  explicit CorpusIterator(const std::vector<std::string>& corpus) : corpus_(corpus) {}
  bool done() const override { return i_ >= corpus_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return corpus_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& corpus_;
  size_t i_ = 0;
};

int64_t write_sentencepiece_tokenizer(const fs::path& dir, int64_t vocab_size, size_t threads) {
  constexpr int64_t kExtraIds = 100;
  // Pieces + the 100 sentinels must fit the model vocabulary; the trainer needs some room.
  const int64_t pieces = std::min<int64_t>(4000, vocab_size - kExtraIds);
  if (pieces < 200)
    fail(ErrorKind::kInvalidArgument,
         "a T5 SentencePiece tokenizer needs a vocabulary of at least ", 200 + kExtraIds,
         " ids, but text_config.vocab_size is ", vocab_size);
  const std::vector<std::string> corpus = builtin_corpus();
  CorpusIterator it(corpus);
  const std::string args = str_cat(
      "--model_type=unigram --vocab_size=", pieces,
      " --hard_vocab_limit=false --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --pad_piece=<pad>"
      " --eos_piece=</s> --unk_piece=<unk> --character_coverage=1.0 --byte_fallback=false"
      " --normalization_rule_name=nmt_nfkc --num_threads=",
      std::max<size_t>(threads, 1));
  std::string model;
  const int old_level = sentencepiece::logging::GetMinLogLevel();
  sentencepiece::logging::SetMinLogLevel(2);  // errors only
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  sentencepiece::logging::SetMinLogLevel(old_level);
  if (!status.ok())
    fail(ErrorKind::kInternal, "training the SentencePiece tokenizer failed: ", status.ToString());
  write_text(dir / "spiece.model", model);

  // The trainer may stop below the requested size (hard_vocab_limit=false): count what it made.
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(model).ok())
    fail(ErrorKind::kInternal, "the trained SentencePiece model does not load");
  const int64_t n = sp.GetPieceSize();

  json additional = json::array();
  json added = json::object();
  json decoder = {{"0", added_token("<pad>", false)},
                  {"1", added_token("</s>", false)},
                  {"2", added_token("<unk>", false)}};
  for (int64_t i = 0; i < kExtraIds; ++i) {
    const std::string t = str_cat("<extra_id_", i, ">");
    additional.push_back(t);
    added[t] = n + kExtraIds - 1 - i;  // <extra_id_0> is the last id
    decoder[std::to_string(n + kExtraIds - 1 - i)] = added_token(t, false, true);
  }
  write_json(dir / "added_tokens.json", added);
  write_json(dir / "special_tokens_map.json", json{{"additional_special_tokens", additional},
                                                   {"eos_token",
                                                    {{"content", "</s>"},
                                                     {"lstrip", false},
                                                     {"normalized", false},
                                                     {"rstrip", false},
                                                     {"single_word", false}}},
                                                   {"pad_token",
                                                    {{"content", "<pad>"},
                                                     {"lstrip", false},
                                                     {"normalized", false},
                                                     {"rstrip", false},
                                                     {"single_word", false}}},
                                                   {"unk_token",
                                                    {{"content", "<unk>"},
                                                     {"lstrip", false},
                                                     {"normalized", false},
                                                     {"rstrip", false},
                                                     {"single_word", false}}}});
  write_json(dir / "tokenizer_config.json", json{{"add_prefix_space", true},
                                                 {"added_tokens_decoder", decoder},
                                                 {"additional_special_tokens", additional},
                                                 {"clean_up_tokenization_spaces", true},
                                                 {"eos_token", "</s>"},
                                                 {"extra_ids", kExtraIds},
                                                 {"legacy", true},
                                                 {"model_max_length", 512},
                                                 {"pad_token", "<pad>"},
                                                 {"processor_class", "Blip2Processor"},
                                                 {"sp_model_kwargs", json::object()},
                                                 {"tokenizer_class", "T5Tokenizer"},
                                                 {"unk_token", "<unk>"}});
  return n + kExtraIds;
}

}  // namespace

std::vector<std::string> builtin_corpus(size_t count) {
  std::mt19937 rng(20240601);  // mt19937's sequence is fixed by the standard
  std::vector<std::string> out;
  out.reserve(count);
  constexpr size_t kNumObjects = sizeof(kObjects) / sizeof(kObjects[0]);
  for (size_t i = 0; i < count; ++i) {
    std::string s = pick(kTemplates, rng);
    if (s.find("{q}") != std::string::npos) s = replace_all(s, "{q}", pick(kQuestions, rng));
    const auto& o = kObjects[rng() % kNumObjects];
    const auto& o2 = kObjects[rng() % kNumObjects];
    s = replace_all(s, "{os2}", o2[1]);
    s = replace_all(s, "{os}", o[1]);
    s = replace_all(s, "{o2}", o2[0]);
    s = replace_all(s, "{o}", o[0]);
    s = replace_all(s, "{c2}", pick(kColors, rng));
    s = replace_all(s, "{c}", pick(kColors, rng));
    s = replace_all(s, "{a2}", pick(kAdjectives, rng));
    s = replace_all(s, "{a}", pick(kAdjectives, rng));
    s = replace_all(s, "{v}", pick(kActions, rng));
    s = replace_all(s, "{p}", pick(kPlaces, rng));
    s = replace_all(s, "{n}", std::to_string(rng() % 3 == 0 ? rng() % 1000 : 2 + rng() % 8));
    out.push_back(std::move(s));
  }
  return out;
}

const std::vector<std::string>& gpt2_byte_symbols() {
  static const std::vector<std::string> symbols = [] {
    std::vector<std::string> s(256);
    auto utf8 = [](uint32_t cp) {
      std::string out;
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else {  // < 0x800 for every code point used here
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      return out;
    };
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      s[b] = utf8(printable ? b : next++);
    }
    return s;
  }();
  return symbols;
}

int64_t write_tokenizer_files(const Blip2Config& config, const std::string& dir, size_t threads) {
  const fs::path d(dir);
  return config.lm_type == LanguageModelType::kOpt
             ? write_bpe_tokenizer(d, config.opt.vocab_size)
             : write_sentencepiece_tokenizer(d, config.t5.vocab_size, threads);
}

}  // namespace blip2::bench
