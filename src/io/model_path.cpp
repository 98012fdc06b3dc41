#include "io/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace blip2 {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> hub_cache_roots() {
  std::vector<fs::path> roots;
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) roots.emplace_back(c);
  if (const char* c = std::getenv("HUGGINGFACE_HUB_CACHE"); c && *c) roots.emplace_back(c);
  if (const char* h = std::getenv("HF_HOME"); h && *h) roots.push_back(fs::path(h) / "hub");
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    roots.push_back(fs::path(x) / "huggingface" / "hub");
  if (const char* home = std::getenv("HOME"); home && *home)
    roots.push_back(fs::path(home) / ".cache" / "huggingface" / "hub");
  return roots;
}

bool looks_like_repo_id(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return false;
  if (s.find('/', slash + 1) != std::string::npos) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/'))
      return false;
  return s.find("..") == std::string::npos;
}

// The snapshot that refs/main names, else the most recently modified snapshot with a config.json.
std::string pick_snapshot(const fs::path& repo_dir) {
  const fs::path snapshots = repo_dir / "snapshots";
  const fs::path ref = repo_dir / "refs" / "main";
  if (fs::exists(ref)) {
    std::string rev = read_text_file(ref.string());
    while (!rev.empty() && std::isspace(static_cast<unsigned char>(rev.back()))) rev.pop_back();
    const fs::path p = snapshots / rev;
    if (!rev.empty() && rev.find('/') == std::string::npos && fs::exists(p / "config.json"))
      return p.string();
  }
  fs::path best;
  fs::file_time_type best_time{};
  std::error_code ec;
  if (fs::is_directory(snapshots, ec))
    for (const auto& e : fs::directory_iterator(snapshots, ec)) {
      if (!fs::exists(e.path() / "config.json")) continue;
      const auto t = fs::last_write_time(e.path(), ec);
      if (best.empty() || t > best_time) {
        best = e.path();
        best_time = t;
      }
    }
  return best.string();
}

}  // namespace

std::string resolve_model_path(const std::string& model) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model;
  if (fs::exists(model, ec))
    fail(ErrorKind::kInvalidArgument, "model ", model,
         " is a file; pass the model folder (the one holding config.json, the *.safetensors "
         "weights and the tokenizer files)");
  std::string looked;
  if (looks_like_repo_id(model)) {
    std::string folder = "models--" + model;
    folder.replace(folder.find('/'), 1, "--");
    for (const fs::path& root : hub_cache_roots()) {
      const fs::path repo_dir = root / folder;
      looked += "\n  " + repo_dir.string();
      if (!fs::is_directory(repo_dir, ec)) continue;
      const std::string snap = pick_snapshot(repo_dir);
      if (!snap.empty()) return snap;
    }
    fail(ErrorKind::kNotFound, "model \"", model,
         "\" is not a folder and is not in the Hugging Face cache; looked in:", looked,
         "\nDownload it first (e.g. `huggingface-cli download ", model,
         "`, or git clone https://huggingface.co/", model, ") and pass the folder or the repo id.");
  }
  fail(ErrorKind::kNotFound, "model folder ", model,
       " does not exist; pass a Hugging Face BLIP-2 model folder or a hub repo id such as "
       "Salesforce/blip2-opt-2.7b that is in the local Hugging Face cache");
}

}  // namespace blip2
