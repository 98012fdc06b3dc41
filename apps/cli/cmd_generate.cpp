// blip2 caption -m MODEL [--prompt TEXT] [generation flags] [--json] [--stream] IMAGE...
// blip2 ask -m MODEL [generation flags] [--json] [--stream] IMAGE QUESTION
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "progress.h"

namespace blip2::cli {

namespace {

struct GenerateArgs {
  ModelArgs model;
  GenerationOverrides overrides;
  std::vector<std::string> images;
  std::string prompt;
  std::string image, question;  // ask
  bool json = false;
  bool stream = false;
  int64_t batch_size = 1;
};

int run_generate(const GenerateArgs& args, Task task) {
  auto engine = load_engine(args.model);
  GenerationOptions options = engine->default_options(task);
  args.overrides.apply(options);
  options.validate();
  if (args.stream && args.json)
    fail(ErrorKind::kInvalidArgument,
         "--stream prints text as it is generated; it cannot be combined with --json");
  const bool streamable =
      args.stream && options.num_beams == 1 && options.num_return_sequences == 1;
  const std::string prompt = task == Task::kVqa ? engine->vqa_prompt(args.question) : args.prompt;

  Session session(engine);
  Progress progress(task == Task::kVqa ? "answering" : "captioning",
                    static_cast<int64_t>(args.images.size()));
  int failures = 0;
  const size_t batch = static_cast<size_t>(std::max<int64_t>(1, streamable ? 1 : args.batch_size));
  for (size_t first = 0; first < args.images.size(); first += batch) {
    const size_t last = std::min(args.images.size(), first + batch);
    // Decode the batch; a bad image is reported and skipped, the others go on.
    std::vector<RgbImage> images;
    std::vector<std::string> paths;
    for (size_t i = first; i < last; ++i) {
      try {
        images.push_back(decode_image_file(args.images[i], engine->options().image_limits));
        paths.push_back(args.images[i]);
      } catch (const Error& e) {
        if (args.images.size() == 1) throw;
        std::cerr << "blip2: error: " << e.what() << "\n";
        if (args.json)
          std::cout << nlohmann::json{{"image", args.images[i]}, {"error", e.what()}}.dump()
                    << "\n";
        ++failures;
        progress.advance();
      }
    }
    if (images.empty()) continue;
    std::vector<CaptionRequest> requests;
    for (const RgbImage& im : images) requests.push_back({&im, prompt});
    TextCallback on_text;
    if (streamable) {
      if (args.images.size() > 1) std::cout << paths[0] << ": ";
      on_text = [](int64_t, std::string_view piece) {
        std::cout << piece << std::flush;
        return true;
      };
    }
    const std::vector<CaptionResult> results = session.generate(requests, options, on_text);
    for (size_t k = 0; k < results.size(); ++k) {
      const CaptionResult& r = results[k];
      if (args.json) {
        nlohmann::ordered_json j;
        j["image"] = paths[k];
        if (task == Task::kVqa) j["question"] = args.question;
        j["prompt"] = r.prompt;
        j["text"] = r.text;
        j["token_ids"] = r.token_ids;
        j["sequences"] = sequences_json(r);
        std::cout << j.dump() << "\n";
      } else if (streamable) {
        std::cout << "\n";
      } else {
        const std::string label = args.images.size() > 1 ? paths[k] + ": " : "";
        if (r.sequences.size() == 1) {
          std::cout << label << trim(r.text) << "\n";
        } else {
          for (const Sequence& s : r.sequences)
            std::cout << label << trim(s.text) << "  (score " << s.score << ")\n";
        }
      }
      std::cout.flush();
    }
    progress.advance(static_cast<int64_t>(results.size()));
  }
  progress.finish();
  return failures == 0 ? 0 : 1;
}

void add_common(CLI::App* cmd, GenerateArgs& a) {
  add_model_flags(cmd, a.model);
  add_generation_flags(cmd, a.overrides);
  cmd->add_flag("--json", a.json, "One JSON object per image per line");
  cmd->add_flag("--stream", a.stream, "Print text as it is generated (greedy or sampling)");
  cmd->add_option("--batch-size", a.batch_size, "Images per forward pass")
      ->check(CLI::Range(1, 256));
}

}  // namespace

void register_generate_commands(CLI::App& app, Action& action) {
  auto cap = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand("caption", "Caption images (optionally continuing a prompt)");
  add_common(c, *cap);
  c->add_option("--prompt", cap->prompt, "Text the caption continues (e.g. \"a photo of\")");
  c->add_option("images", cap->images, "Image files (JPEG, PNG, WebP, BMP)")->required();
  c->callback([&action, cap] { action = [cap] { return run_generate(*cap, Task::kCaption); }; });

  auto ask = std::make_shared<GenerateArgs>();
  CLI::App* q = app.add_subcommand("ask", "Answer a question about an image (zero-shot VQA)");
  add_common(q, *ask);
  q->add_option("image", ask->image, "Image file")->required();
  q->add_option("question", ask->question, "The question, e.g. \"what color is the square?\"")
      ->required();
  q->callback([&action, ask] {
    ask->images = {ask->image};
    action = [ask] { return run_generate(*ask, Task::kVqa); };
  });
}

}  // namespace blip2::cli
