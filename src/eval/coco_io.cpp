#include "eval/coco_io.h"

#include <fstream>
#include <unordered_map>

#include "core/error.h"

namespace blip2::eval {
namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  return v.type_name();
}

// Describes where an entry is: `results.json: entry 3 (image_id 42)`.
struct Where {
  std::string_view source;
  std::string entry;  // "" for the document itself

  std::string str() const {
    return entry.empty() ? std::string(source) : str_cat(source, ": ", entry);
  }
};

const json& require_field(const json& obj, const char* key, const Where& where, const char* hint) {
  if (!obj.is_object()) {
    fail(ErrorKind::kFormat, where.str(), ": expected a JSON object, found ", type_name(obj), "; ",
         hint);
  }
  auto it = obj.find(key);
  if (it == obj.end()) {
    fail(ErrorKind::kFormat, where.str(), ": field \"", key, "\" is missing; ", hint);
  }
  return *it;
}

int64_t require_int(const json& obj, const char* key, const Where& where, const char* hint) {
  const json& v = require_field(obj, key, where, hint);
  if (!v.is_number_integer()) {
    fail(ErrorKind::kFormat, where.str(), ": field \"", key, "\" must be an integer, found ",
         type_name(v), " ", v.dump(), "; ", hint);
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    fail(ErrorKind::kFormat, where.str(), ": field \"", key, "\" = ", v.dump(),
         " is too large for a 64-bit id; ", hint);
  }
  return v.get<int64_t>();
}

std::string require_string(const json& obj, const char* key, const Where& where, const char* hint) {
  const json& v = require_field(obj, key, where, hint);
  if (!v.is_string()) {
    fail(ErrorKind::kFormat, where.str(), ": field \"", key, "\" must be a string, found ",
         type_name(v), " ", v.dump(), "; ", hint);
  }
  return v.get<std::string>();
}

const json& require_array(const json& v, const Where& where, const char* hint) {
  if (!v.is_array()) {
    fail(ErrorKind::kFormat, where.str(), ": expected a JSON array, found ", type_name(v), "; ",
         hint);
  }
  return v;
}

// "entry 3" plus the id when the entry has a readable one.
std::string entry_name(const char* array, size_t index, const json& item, const char* id_key) {
  std::string s = array == nullptr ? str_cat("entry ", index) : str_cat(array, "[", index, "]");
  if (item.is_object()) {
    auto it = item.find(id_key);
    if (it != item.end() && (it->is_number() || it->is_string())) {
      s += str_cat(" (", id_key, " ", it->dump(), ")");
    }
  }
  return s;
}

constexpr const char* kCaptionAnnHint =
    "COCO caption annotations look like {\"images\": [{\"id\": 1}], \"annotations\": "
    "[{\"image_id\": 1, \"caption\": \"...\"}]}";
constexpr const char* kCaptionResHint =
    "COCO caption results look like [{\"image_id\": 1, \"caption\": \"...\"}]";
constexpr const char* kVqaQuesHint =
    "VQA questions look like {\"questions\": [{\"question_id\": 1, \"image_id\": 2, "
    "\"question\": \"...\"}]}";
constexpr const char* kVqaAnnHint =
    "VQA annotations look like {\"annotations\": [{\"question_id\", \"image_id\", "
    "\"question_type\", \"answer_type\", \"answers\": [{\"answer\", \"answer_confidence\", "
    "\"answer_id\"}]}]}";
constexpr const char* kVqaResHint =
    "VQA results look like [{\"question_id\": 1, \"answer\": \"...\"}]";

}  // namespace

nlohmann::json read_json_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(ErrorKind::kNotFound, "cannot open ", what, " file '", path,
         "'; check the path and permissions");
  }
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    fail(ErrorKind::kFormat, what, " file '", path, "' is not valid JSON (", e.what(),
         "); check that the file is complete and not truncated");
  }
}

CaptionAnnotations parse_caption_annotations(const nlohmann::json& doc, std::string_view source) {
  const Where top{source, ""};
  const json& images = require_array(require_field(doc, "images", top, kCaptionAnnHint),
                                     Where{source, "\"images\""}, kCaptionAnnHint);
  const json& anns = require_array(require_field(doc, "annotations", top, kCaptionAnnHint),
                                   Where{source, "\"annotations\""}, kCaptionAnnHint);
  CaptionAnnotations out;
  std::unordered_map<int64_t, size_t> index;
  out.images.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const Where where{source, entry_name("images", i, images[i], "id")};
    const int64_t id = require_int(images[i], "id", where, kCaptionAnnHint);
    auto [it, inserted] = index.emplace(id, i);
    if (!inserted) {
      fail(ErrorKind::kFormat, where.str(), ": image id ", id, " already appears at images[",
           it->second, "]; image ids must be unique");
    }
    out.images.push_back({id, {}});
  }
  for (size_t i = 0; i < anns.size(); ++i) {
    const Where where{source, entry_name("annotations", i, anns[i], "id")};
    const int64_t image_id = require_int(anns[i], "image_id", where, kCaptionAnnHint);
    std::string caption = require_string(anns[i], "caption", where, kCaptionAnnHint);
    auto it = index.find(image_id);
    if (it == index.end()) {
      fail(ErrorKind::kFormat, where.str(), ": image_id ", image_id,
           " is not listed in \"images\"; every annotation must refer to a listed image");
    }
    out.images[it->second].captions.push_back(std::move(caption));
  }
  return out;
}

std::vector<CaptionResult> parse_caption_results(const nlohmann::json& doc,
                                                 std::string_view source) {
  const json& arr = require_array(doc, Where{source, ""}, kCaptionResHint);
  std::vector<CaptionResult> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const Where where{source, entry_name(nullptr, i, arr[i], "image_id")};
    CaptionResult r;
    r.image_id = require_int(arr[i], "image_id", where, kCaptionResHint);
    r.caption = require_string(arr[i], "caption", where, kCaptionResHint);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<VqaQuestion> parse_vqa_questions(const nlohmann::json& doc, std::string_view source) {
  const json& arr = require_array(require_field(doc, "questions", Where{source, ""}, kVqaQuesHint),
                                  Where{source, "\"questions\""}, kVqaQuesHint);
  std::vector<VqaQuestion> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const Where where{source, entry_name("questions", i, arr[i], "question_id")};
    VqaQuestion q;
    q.question_id = require_int(arr[i], "question_id", where, kVqaQuesHint);
    q.image_id = require_int(arr[i], "image_id", where, kVqaQuesHint);
    q.question = require_string(arr[i], "question", where, kVqaQuesHint);
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<VqaAnnotation> parse_vqa_annotations(const nlohmann::json& doc,
                                                 std::string_view source) {
  const json& arr = require_array(require_field(doc, "annotations", Where{source, ""}, kVqaAnnHint),
                                  Where{source, "\"annotations\""}, kVqaAnnHint);
  std::vector<VqaAnnotation> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const Where where{source, entry_name("annotations", i, arr[i], "question_id")};
    VqaAnnotation a;
    a.question_id = require_int(arr[i], "question_id", where, kVqaAnnHint);
    a.image_id = require_int(arr[i], "image_id", where, kVqaAnnHint);
    a.question_type = require_string(arr[i], "question_type", where, kVqaAnnHint);
    a.answer_type = require_string(arr[i], "answer_type", where, kVqaAnnHint);
    const json& answers = require_array(require_field(arr[i], "answers", where, kVqaAnnHint),
                                        Where{source, where.entry + ": \"answers\""}, kVqaAnnHint);
    for (size_t j = 0; j < answers.size(); ++j) {
      const Where aw{source, str_cat(where.entry, ": answers[", j, "]")};
      VqaAnswer ans;
      ans.answer = require_string(answers[j], "answer", aw, kVqaAnnHint);
      if (answers[j].contains("answer_confidence")) {
        ans.answer_confidence = require_string(answers[j], "answer_confidence", aw, kVqaAnnHint);
      }
      if (answers[j].contains("answer_id")) {
        ans.answer_id = require_int(answers[j], "answer_id", aw, kVqaAnnHint);
      }
      a.answers.push_back(std::move(ans));
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<VqaResult> parse_vqa_results(const nlohmann::json& doc, std::string_view source) {
  const json& arr = require_array(doc, Where{source, ""}, kVqaResHint);
  std::vector<VqaResult> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const Where where{source, entry_name(nullptr, i, arr[i], "question_id")};
    VqaResult r;
    r.question_id = require_int(arr[i], "question_id", where, kVqaResHint);
    r.answer = require_string(arr[i], "answer", where, kVqaResHint);
    out.push_back(std::move(r));
  }
  return out;
}

CaptionAnnotations load_caption_annotations(const std::string& path) {
  return parse_caption_annotations(read_json_file(path, "caption annotations"), path);
}

std::vector<CaptionResult> load_caption_results(const std::string& path) {
  return parse_caption_results(read_json_file(path, "caption results"), path);
}

std::vector<VqaQuestion> load_vqa_questions(const std::string& path) {
  return parse_vqa_questions(read_json_file(path, "VQA questions"), path);
}

std::vector<VqaAnnotation> load_vqa_annotations(const std::string& path) {
  return parse_vqa_annotations(read_json_file(path, "VQA annotations"), path);
}

std::vector<VqaResult> load_vqa_results(const std::string& path) {
  return parse_vqa_results(read_json_file(path, "VQA results"), path);
}

}  // namespace blip2::eval
