// blip2 eval captions|vqa|run: COCO caption metrics and VQA accuracy of a results file, computed
// natively and equal to the official toolkits' numbers, and a model run over a COCO-format set
// that writes such a results file and scores it (see docs/eval.md).
//
//   blip2 eval captions --annotations ANN.json --results RES.json [--json] [--per-image OUT.jsonl]
//   blip2 eval vqa --questions Q.json --annotations A.json --results R.json [--json]
//   blip2 eval run -m MODEL --images DIR --annotations ANN.json [--task caption|vqa]
//                  [--questions Q.json] [--image-index COCO.json] -o RES.json [--json] [gen flags]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/caption_eval.h"
#include "eval/coco_io.h"
#include "eval/vqa.h"
#include "progress.h"

namespace blip2::cli {

namespace {

constexpr const char* kJavaOnlyNote = "needs the official Java jar; not computed";

struct CaptionEvalArgs {
  std::string annotations;
  std::string results;
  bool json = false;
  std::string per_image;
  bool only_result_images = false;
  size_t threads = 0;
};

struct VqaEvalArgs {
  std::string questions;
  std::string annotations;
  std::string results;
  bool json = false;
  std::string per_question;
};

std::ofstream open_output(const std::string& path, const char* what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    fail(ErrorKind::kNotFound, "cannot write ", what, " file '", path,
         "'; check that the folder exists and is writable");
  }
  return out;
}

void close_output(std::ofstream& out, const std::string& path, const char* what) {
  out.close();
  if (!out) fail(ErrorKind::kResource, "writing ", what, " file '", path, "' failed (disk full?)");
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

nlohmann::ordered_json caption_scores_json(const eval::CaptionScores& s) {
  nlohmann::ordered_json j;
  for (int k = 0; k < eval::kBleuOrder; ++k) j["Bleu_" + std::to_string(k + 1)] = s.bleu[k];
  j["ROUGE_L"] = s.rouge_l;
  j["CIDEr"] = s.cider;
  j["num_images"] = s.per_image.size();
  j["not_computed"] = {{"METEOR", kJavaOnlyNote}, {"SPICE", kJavaOnlyNote}};
  return j;
}

void print_caption_scores(const eval::CaptionScores& s) {
  std::cout << "COCO caption metrics (pycocoevalcap-compatible) over " << s.per_image.size()
            << " images\n";
  for (int k = 0; k < eval::kBleuOrder; ++k) {
    std::cout << "  Bleu_" << k + 1 << "   " << fixed(s.bleu[k], 6) << "\n";
  }
  std::cout << "  ROUGE_L  " << fixed(s.rouge_l, 6) << "\n"
            << "  CIDEr    " << fixed(s.cider, 6) << "\n"
            << "  METEOR   not computed (needs the official Java jar)\n"
            << "  SPICE    not computed (needs the official Java jar)\n";
}

nlohmann::ordered_json vqa_scores_json(const eval::VqaScores& s) {
  nlohmann::ordered_json j;
  j["overall"] = s.overall;
  j["perQuestionType"] = s.per_question_type;
  j["perAnswerType"] = s.per_answer_type;
  return j;
}

// The official tool's report layout.
void print_vqa_scores(const eval::VqaScores& s) {
  std::cout << "Overall Accuracy is: " << fixed(s.overall, 2) << "\n\n"
            << "Per Question Type Accuracy is the following:\n";
  for (const auto& [type, acc] : s.per_question_type) {
    std::cout << type << " : " << fixed(acc, 2) << "\n";
  }
  std::cout << "\nPer Answer Type Accuracy is the following:\n";
  for (const auto& [type, acc] : s.per_answer_type) {
    std::cout << type << " : " << fixed(acc, 2) << "\n";
  }
}

int run_caption_eval(const CaptionEvalArgs& args) {
  const eval::CaptionAnnotations ann = eval::load_caption_annotations(args.annotations);
  const std::vector<eval::CaptionResult> res = eval::load_caption_results(args.results);
  ThreadPool pool(args.threads);
  eval::CaptionEvalOptions options;
  options.pool = &pool;
  if (args.only_result_images) options.images = eval::ImageSelection::kResultImages;
  const eval::CaptionScores s = eval::evaluate_captions(ann, res, options);

  if (!args.per_image.empty()) {
    std::ofstream out = open_output(args.per_image, "per-image scores");
    for (const eval::ImageScores& img : s.per_image) {
      nlohmann::ordered_json j;
      j["image_id"] = img.image_id;
      for (int k = 0; k < eval::kBleuOrder; ++k) j["Bleu_" + std::to_string(k + 1)] = img.bleu[k];
      j["ROUGE_L"] = img.rouge_l;
      j["CIDEr"] = img.cider;
      out << j.dump() << "\n";
    }
    close_output(out, args.per_image, "per-image scores");
  }

  if (args.json) {
    std::cout << caption_scores_json(s).dump() << "\n";
  } else {
    print_caption_scores(s);
  }
  return 0;
}

int run_vqa_eval(const VqaEvalArgs& args) {
  const auto questions = eval::load_vqa_questions(args.questions);
  const auto annotations = eval::load_vqa_annotations(args.annotations);
  const auto results = eval::load_vqa_results(args.results);
  const eval::VqaScores s = eval::evaluate_vqa(questions, annotations, results);

  if (!args.per_question.empty()) {
    std::ofstream out = open_output(args.per_question, "per-question scores");
    for (const eval::VqaQuestionScore& q : s.per_question) {
      nlohmann::ordered_json j;
      j["question_id"] = q.question_id;
      j["question_type"] = q.question_type;
      j["answer_type"] = q.answer_type;
      j["accuracy"] = q.accuracy;
      j["accuracy_raw"] = q.accuracy_raw;
      j["normalized"] = q.normalized;
      j["prediction"] = q.prediction;
      j["gt_answers"] = q.gt_answers;
      out << j.dump() << "\n";
    }
    close_output(out, args.per_question, "per-question scores");
  }

  if (args.json) {
    std::cout << vqa_scores_json(s).dump() << "\n";
  } else {
    print_vqa_scores(s);
  }
  return 0;
}

// ------------------------------------------------------------------ eval run

struct EvalRunArgs {
  ModelArgs model;
  GenerationOverrides overrides;
  std::string task = "caption";
  std::string images;       // folder the file names are relative to
  std::string annotations;  // caption annotations, or VQA annotations for --task vqa
  std::string questions;    // VQA questions
  std::string image_index;  // a COCO file with images[].id/file_name (VQA files have none)
  std::string output;
  std::string prompt;  // captions: the text the caption continues
  bool json = false;
  int64_t batch_size = 16;
};

// One generation: an image to caption, or a question about an image.
struct WorkItem {
  int64_t id = 0;  // the results key: image_id (captions) or question_id (VQA)
  std::string file;
  std::string prompt;
};

// image id -> file name, from a COCO document's "images" list.
std::map<int64_t, std::string> image_files(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    fail(ErrorKind::kFormat, source,
         " has no \"images\" list; eval run needs each image's \"id\" and ",
         "\"file_name\" (a COCO captions or instances file)");
  std::map<int64_t, std::string> files;
  const nlohmann::json& images = doc["images"];
  for (size_t i = 0; i < images.size(); ++i) {
    const nlohmann::json& im = images[i];
    if (!im.is_object() || !im.contains("id") || !im["id"].is_number_integer())
      fail(ErrorKind::kFormat, source, ": images[", i, "] has no integer \"id\"");
    if (!im.contains("file_name") || !im["file_name"].is_string())
      fail(ErrorKind::kFormat, source, ": images[", i, "] (id ", im["id"].get<int64_t>(),
           ") has no \"file_name\"; eval run needs it to find the image");
    files[im["id"].get<int64_t>()] = im["file_name"].get<std::string>();
  }
  return files;
}

// DIR/file_name, or DIR/<base name> when the file name carries a folder that DIR already is.
std::string image_path(const std::string& dir, const std::string& file_name) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(dir) / file_name;
  std::error_code ec;
  if (fs::exists(p, ec)) return p.string();
  const fs::path base = fs::path(dir) / fs::path(file_name).filename();
  return fs::exists(base, ec) ? base.string() : p.string();
}

// Writes the results (in work order) to a temporary file and renames it over `path`, so that an
// interrupted run leaves either the old or the new complete file.
void write_results_atomically(const std::string& path, const std::vector<WorkItem>& items,
                              const std::map<int64_t, std::string>& texts, bool vqa) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out = open_output(tmp, "results");
    out << "[";
    bool first = true;
    for (const WorkItem& item : items) {
      const auto it = texts.find(item.id);
      if (it == texts.end()) continue;
      nlohmann::ordered_json j;
      j[vqa ? "question_id" : "image_id"] = item.id;
      j[vqa ? "answer" : "caption"] = it->second;
      out << (first ? "\n " : ",\n ") << j.dump();
      first = false;
    }
    out << "\n]\n";
    close_output(out, tmp, "results");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail(ErrorKind::kResource, "cannot move the results into place at '", path,
         "': ", ec.message());
  }
}

int run_eval_run(const EvalRunArgs& args) {
  const bool vqa = args.task == "vqa";
  if (vqa && args.questions.empty())
    fail(ErrorKind::kInvalidArgument, "--task vqa needs --questions (the VQA questions file)");

  // What to generate, in file order.
  std::vector<WorkItem> items;
  eval::CaptionAnnotations caption_ann;
  std::vector<eval::VqaQuestion> questions;
  std::vector<eval::VqaAnnotation> vqa_ann;
  std::map<int64_t, std::string> files;
  if (!vqa) {
    const nlohmann::json doc = eval::read_json_file(args.annotations, "caption annotations");
    caption_ann = eval::parse_caption_annotations(doc, args.annotations);
    files =
        args.image_index.empty()
            ? image_files(doc, args.annotations)
            : image_files(eval::read_json_file(args.image_index, "image index"), args.image_index);
    for (const auto& im : caption_ann.images) {
      const auto f = files.find(im.id);
      if (f == files.end())
        fail(ErrorKind::kFormat, args.image_index.empty() ? args.annotations : args.image_index,
             " has no file_name for image id ", im.id);
      items.push_back({im.id, image_path(args.images, f->second), args.prompt});
    }
  } else {
    const nlohmann::json qdoc = eval::read_json_file(args.questions, "VQA questions");
    questions = eval::parse_vqa_questions(qdoc, args.questions);
    vqa_ann = eval::load_vqa_annotations(args.annotations);
    std::string subtype;
    if (!args.image_index.empty()) {
      files = image_files(eval::read_json_file(args.image_index, "image index"), args.image_index);
    } else if (qdoc.contains("data_subtype") && qdoc["data_subtype"].is_string()) {
      subtype = qdoc["data_subtype"].get<std::string>();  // the official COCO file names
    } else {
      fail(ErrorKind::kInvalidArgument, args.questions,
           " has no \"data_subtype\" to name the COCO images by; ",
           "pass --image-index with a COCO file listing each image's id and file_name");
    }
    for (const auto& q : questions) {
      std::string file;
      if (subtype.empty()) {
        const auto f = files.find(q.image_id);
        if (f == files.end())
          fail(ErrorKind::kFormat, args.image_index, " has no file_name for image id ", q.image_id,
               " (question ", q.question_id, ")");
        file = f->second;
      } else {
        char name[64];
        std::snprintf(name, sizeof(name), "_%012lld.jpg", static_cast<long long>(q.image_id));
        file = "COCO_" + subtype + name;
      }
      items.push_back({q.question_id, image_path(args.images, file), q.question});
    }
  }

  // Resume: results already in the output file are kept, not generated again.
  std::set<int64_t> wanted;
  for (const WorkItem& item : items) wanted.insert(item.id);
  std::map<int64_t, std::string> texts;
  if (std::filesystem::exists(args.output)) {
    const nlohmann::json doc = eval::read_json_file(args.output, "results to resume from");
    std::vector<std::pair<int64_t, std::string>> previous;
    if (vqa) {
      for (auto& r : eval::parse_vqa_results(doc, args.output))
        previous.emplace_back(r.question_id, r.answer);
    } else {
      for (auto& r : eval::parse_caption_results(doc, args.output))
        previous.emplace_back(r.image_id, r.caption);
    }
    const char* key = vqa ? "question_id" : "image_id";
    for (auto& [id, text] : previous) {
      if (!wanted.count(id))
        fail(ErrorKind::kInvalidArgument, args.output, " has a result for ", key, " ", id,
             ", which is not in ", vqa ? args.questions : args.annotations,
             "; it belongs to another run: pass another -o or delete it");
      if (!texts.emplace(id, std::move(text)).second)
        fail(ErrorKind::kInvalidArgument, args.output, " has two results for ", key, " ", id,
             "; delete the file (or the duplicate) and run again");
    }
  }
  const int64_t reused = static_cast<int64_t>(texts.size());

  auto engine = load_engine(args.model);
  GenerationOptions options = engine->default_options(vqa ? Task::kVqa : Task::kCaption);
  args.overrides.apply(options);
  options.validate();
  Session session(engine);

  // Written once before the model runs: a path that cannot be written fails now, not after the
  // first batch.
  write_results_atomically(args.output, items, texts, vqa);

  std::vector<const WorkItem*> pending;
  for (const WorkItem& item : items)
    if (!texts.count(item.id)) pending.push_back(&item);
  int64_t generated = 0, failed = 0;
  Progress progress(vqa ? "answering" : "captioning", static_cast<int64_t>(pending.size()));
  auto last_write = std::chrono::steady_clock::now();
  const size_t batch = static_cast<size_t>(args.batch_size);
  for (size_t first = 0; first < pending.size(); first += batch) {
    const size_t last = std::min(pending.size(), first + batch);
    std::map<std::string, RgbImage> images;  // questions about one image decode it once
    std::vector<CaptionRequest> requests;
    std::vector<const WorkItem*> batch_items;
    for (size_t i = first; i < last; ++i) {
      const WorkItem& item = *pending[i];
      auto it = images.find(item.file);
      if (it == images.end()) {
        try {
          it = images
                   .emplace(item.file, decode_image_file(item.file, engine->options().image_limits))
                   .first;
        } catch (const Error& e) {
          std::cerr << "blip2: error: " << e.what() << "\n";
          ++failed;
          progress.advance();
          continue;
        }
      }
      requests.push_back({&it->second, vqa ? engine->vqa_prompt(item.prompt) : item.prompt});
      batch_items.push_back(&item);
    }
    if (requests.empty()) continue;
    const std::vector<CaptionResult> results = session.generate(requests, options);
    for (size_t k = 0; k < results.size(); ++k) texts[batch_items[k]->id] = trim(results[k].text);
    generated += static_cast<int64_t>(results.size());
    progress.advance(static_cast<int64_t>(results.size()));
    // Save every few seconds, so that a stopped run loses little.
    if (std::chrono::steady_clock::now() - last_write > std::chrono::seconds(2)) {
      write_results_atomically(args.output, items, texts, vqa);
      last_write = std::chrono::steady_clock::now();
    }
  }
  progress.finish();
  write_results_atomically(args.output, items, texts, vqa);

  nlohmann::ordered_json summary;
  summary["task"] = vqa ? "vqa" : "caption";
  summary["results"] = args.output;
  summary["items"] = items.size();
  summary["generated"] = generated;
  summary["reused"] = reused;
  summary["failed"] = failed;
  if (failed > 0) {
    summary["scores"] = nullptr;
    if (args.json) std::cout << summary.dump() << "\n";
    std::cerr << "blip2: error: " << failed << " of " << items.size()
              << " items could not be read (see above); their results are missing from "
              << args.output
              << ", so nothing was scored. Fix the images and run again: the others are kept.\n";
    return 1;
  }
  if (!args.json)
    std::cout << (vqa ? "answered " : "captioned ") << generated << (vqa ? " questions" : " images")
              << ", reused " << reused << " from " << args.output << "\n";
  if (!vqa) {
    std::vector<eval::CaptionResult> results;
    for (const WorkItem& item : items) results.push_back({item.id, texts.at(item.id)});
    eval::CaptionEvalOptions eo;
    eo.pool = &engine->pool();
    const eval::CaptionScores s = eval::evaluate_captions(caption_ann, results, eo);
    if (args.json) {
      summary["scores"] = caption_scores_json(s);
    } else {
      print_caption_scores(s);
    }
  } else {
    // Questions without annotations (e.g. a test split) are answered but cannot be scored.
    std::set<int64_t> annotated;
    for (const auto& a : vqa_ann) annotated.insert(a.question_id);
    std::vector<eval::VqaResult> results;
    for (const WorkItem& item : items)
      if (annotated.count(item.id)) results.push_back({item.id, texts.at(item.id)});
    const eval::VqaScores s = eval::evaluate_vqa(questions, vqa_ann, results);
    if (args.json) {
      summary["scores"] = vqa_scores_json(s);
    } else {
      print_vqa_scores(s);
    }
  }
  if (args.json) std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace

void register_eval_command(CLI::App& app, Action& action) {
  CLI::App* eval_cmd =
      app.add_subcommand("eval", "Score results: COCO caption metrics or VQA accuracy");
  eval_cmd->require_subcommand(1);

  auto cap = std::make_shared<CaptionEvalArgs>();
  CLI::App* captions = eval_cmd->add_subcommand(
      "captions",
      "BLEU-1..4, ROUGE-L and CIDEr-D of a COCO caption results file, equal to "
      "pycocoevalcap (METEOR and SPICE need Java and are not computed)");
  captions->add_option("--annotations", cap->annotations, "COCO caption annotations (JSON)")
      ->required();
  captions->add_option("--results", cap->results, "results: [{\"image_id\", \"caption\"}]")
      ->required();
  captions->add_flag("--json", cap->json,
                     "Print one JSON object (pycocoevalcap metric names, unrounded)");
  captions->add_option("--per-image", cap->per_image,
                       "Write each image's scores to this file, one JSON object per line");
  captions->add_flag("--only-result-images", cap->only_result_images,
                     "Score only the annotated images that have a result (default: every "
                     "annotated image must have one)");
  captions->add_option("--threads", cap->threads,
                       "Threads for tokenizing the captions (default: one per physical core)");
  captions->callback([&action, cap] { action = [cap] { return run_caption_eval(*cap); }; });

  auto vqa = std::make_shared<VqaEvalArgs>();
  CLI::App* vqa_cmd = eval_cmd->add_subcommand(
      "vqa", "VQA accuracy of a results file, equal to the official VQA evaluation");
  vqa_cmd->add_option("--questions", vqa->questions, "VQA questions (JSON)")->required();
  vqa_cmd->add_option("--annotations", vqa->annotations, "VQA annotations (JSON)")->required();
  vqa_cmd->add_option("--results", vqa->results, "results: [{\"question_id\", \"answer\"}]")
      ->required();
  vqa_cmd->add_flag("--json", vqa->json,
                    "Print {\"overall\", \"perQuestionType\", \"perAnswerType\"} (percent, "
                    "rounded to 2 decimals like the official tool)");
  vqa_cmd->add_option("--per-question", vqa->per_question,
                      "Write each question's accuracy to this file, one JSON object per line");
  vqa_cmd->callback([&action, vqa] { action = [vqa] { return run_vqa_eval(*vqa); }; });

  auto run = std::make_shared<EvalRunArgs>();
  CLI::App* run_cmd = eval_cmd->add_subcommand(
      "run",
      "Caption every image of a COCO caption annotation file (or answer every question of a VQA "
      "questions file) with a model, write the results file, then score it. Resumes: results "
      "already in the output file are kept");
  add_model_flags(run_cmd, run->model);
  run_cmd->add_option("--task", run->task, "caption or vqa")
      ->check(CLI::IsMember({"caption", "vqa"}));
  run_cmd->add_option("--images", run->images, "Folder the annotations' file names are relative to")
      ->required();
  run_cmd
      ->add_option("--annotations", run->annotations,
                   "COCO caption annotations (caption), or VQA annotations (vqa)")
      ->required();
  run_cmd->add_option("--questions", run->questions, "VQA questions (vqa)");
  run_cmd->add_option(
      "--image-index", run->image_index,
      "A COCO file whose \"images\" give each image id's file_name (default: the "
      "caption annotations; for vqa the official COCO_<data_subtype>_<id>.jpg names)");
  run_cmd->add_option("-o,--output", run->output, "Results file to write (and resume from)")
      ->required();
  run_cmd->add_option("--prompt", run->prompt,
                      "Captions: text the caption continues (e.g. \"a photo of\")");
  run_cmd->add_flag(
      "--json", run->json,
      "Print one JSON object: counts of generated and reused results, and the scores");
  run_cmd->add_option("--batch-size", run->batch_size, "Images per forward pass")
      ->check(CLI::Range(1, 256));
  add_generation_flags(run_cmd, run->overrides);
  run_cmd->callback([&action, run] { action = [run] { return run_eval_run(*run); }; });
}

}  // namespace blip2::cli
