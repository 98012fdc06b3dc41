// blip2 tokenize -m MODEL [--no-special-tokens] TEXT   -> JSON array of ids
// blip2 detokenize -m MODEL [--keep-special-tokens] IDS... -> text
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace blip2::cli {

namespace {

struct TokenizeArgs {
  std::string model, text;
  std::vector<int64_t> ids;
  bool no_special = false, keep_special = false;
};

int run_tokenize(const TokenizeArgs& a) {
  const auto tok = Tokenizer::load(a.model);
  std::cout << nlohmann::json(tok->encode(a.text, !a.no_special)).dump() << "\n";
  return 0;
}

int run_detokenize(const TokenizeArgs& a) {
  const auto tok = Tokenizer::load(a.model);
  std::vector<int32_t> ids;
  for (int64_t id : a.ids) {
    if (id < 0 || id > INT32_MAX)
      fail(ErrorKind::kInvalidArgument, "token id ", id, " is out of range");
    ids.push_back(static_cast<int32_t>(id));
  }
  std::cout << tok->decode(ids, !a.keep_special) << "\n";
  return 0;
}

}  // namespace

void register_tokenize_commands(CLI::App& app, Action& action) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* t = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  t->add_option("-m,--model", a->model, "Model folder with the tokenizer files")->required();
  t->add_flag("--no-special-tokens", a->no_special, "Do not add BOS/EOS");
  t->add_option("text", a->text, "Text to tokenize")->required();
  t->callback([&action, a] { action = [a] { return run_tokenize(*a); }; });

  auto d = std::make_shared<TokenizeArgs>();
  CLI::App* dt = app.add_subcommand("detokenize", "Print the text of token ids");
  dt->add_option("-m,--model", d->model, "Model folder with the tokenizer files")->required();
  dt->add_flag("--keep-special-tokens", d->keep_special,
               "Render special tokens instead of skipping them");
  dt->add_option("ids", d->ids, "Token ids")->required();
  dt->callback([&action, d] { action = [d] { return run_detokenize(*d); }; });
}

}  // namespace blip2::cli
