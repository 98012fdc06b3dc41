// Tokenizers for random benchmark models: made at run time from a small built-in English corpus
// (templated caption-like sentences), so `blip2 make-random` needs no download. They tokenize real
// text into real ids and decode them back; they are not the published vocabularies (the real
// OPT-2.7b BPE has 50265 tokens, ours a few thousand).
//
//   OPT: GPT-2 byte-level BPE in OPT's layout: vocab.json (<s>=0, <pad>=1, </s>=2, <unk>=3, the 256
//        byte symbols in bytes_to_unicode order, then one token per merge), merges.txt learnt by
//        plain BPE on the corpus, tokenizer_config.json / special_tokens_map.json as
//        GPT2Tokenizer.save_pretrained writes them (add_bos_token, bos = eos = unk = </s>).
//   T5:  spiece.model, a SentencePiece unigram model trained with libsentencepiece's trainer
//        (pad=0, eos=1, unk=2, no bos, nmt_nfkc), plus tokenizer_config.json with extra_ids 100
//        (<extra_id_0> is the last id), special_tokens_map.json and added_tokens.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"

namespace blip2::bench {

// The training corpus: `count` deterministic sentences.
std::vector<std::string> builtin_corpus(size_t count = 20000);

// Writes the tokenizer files for the language model of `config` into the folder `dir` (which must
// exist) and returns the tokenizer's size (len(tokenizer)); it is at most the model vocabulary.
// `threads` is handed to the SentencePiece trainer.
int64_t write_tokenizer_files(const Blip2Config& config, const std::string& dir,
                              size_t threads = 1);

// GPT-2's bytes_to_unicode(): the printable character that stands for each byte in vocab.json and
// merges.txt, as UTF-8 (printable Latin-1 bytes stand for themselves, the others map to U+0100...).
const std::vector<std::string>& gpt2_byte_symbols();

}  // namespace blip2::bench
