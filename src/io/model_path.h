// Where a model lives: a folder, or a Hugging Face hub repo id ("Salesforce/blip2-opt-2.7b")
// resolved through the local Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub, or
// ~/.cache/huggingface/hub: models--Salesforce--blip2-opt-2.7b/snapshots/<revision>/).
// Nothing is downloaded.
#pragma once

#include <string>

namespace blip2 {

// Returns the folder holding config.json. Throws Error(kNotFound) saying where it looked and how
// to get the model.
std::string resolve_model_path(const std::string& model);

}  // namespace blip2
