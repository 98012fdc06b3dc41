// The BLIP-2 architectures `blip2 make-random` and `blip2 bench --arch` know, with the published
// checkpoints' own config.json (Salesforce/blip2-opt-2.7b, blip2-opt-6.7b, blip2-flan-t5-xl, as
// transformers 4.40.2 saves them: only non-default values) and the files that go with them
// (generation_config.json, preprocessor_config.json). They are compiled in, so the binary needs no
// data files. Two hidden tiny architectures ("tiny-opt", "tiny-t5": the shapes of the test
// fixtures tests/data/opt-tiny and t5-tiny) make the tests run in seconds.
//
//   const ArchInfo& a = find_arch("opt-2.7b");
//   Blip2Config c = blip2_config_from_json(a.config, a.name);  // ViT-g, Q-Former, OPT 2560x32
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace blip2::bench {

struct ArchInfo {
  std::string name;                  // "opt-2.7b"
  std::string description;           // "BLIP-2 OPT-2.7b (Salesforce/blip2-opt-2.7b)"
  bool hidden = false;               // a test architecture, not listed in --help
  nlohmann::json config;             // config.json
  nlohmann::json generation_config;  // generation_config.json
};

// Every architecture, the listed ones first.
const std::vector<ArchInfo>& all_archs();
// Throws Error(kInvalidArgument) naming the known architectures.
const ArchInfo& find_arch(std::string_view name);
// "opt-2.7b, opt-6.7b, flan-t5-xl" (hidden ones left out).
std::string listed_arch_names();

// preprocessor_config.json of every BLIP-2 checkpoint: BlipImageProcessor, 224 px bicubic, the
// OpenAI CLIP mean/std.
nlohmann::json blip_preprocessor_config(int image_size = 224);

}  // namespace blip2::bench
