#include "eval/vqa.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "eval/unicode_text.h"

namespace blip2::eval {
namespace {

// vqaEval.py's `punct`, in its order (the order matters: each is replaced in turn).
constexpr std::array<char, 21> kPunct = {';',  '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                                         '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};

// The official code matches `periodStrip` with re.sub(..., outText, re.UNICODE): re.UNICODE (32)
// lands in the `count` parameter, so at most 32 periods are removed.
constexpr int kMaxPeriodsRemoved = 32;

const std::unordered_map<std::string, std::string>& number_words() {
  static const std::unordered_map<std::string, std::string> map = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return map;
}

// vqaEval.py's `contractions` (keys with capitals such as "Im" can never match: the text is
// lower-cased before the lookup; they are kept to stay a faithful copy of the table).
const std::unordered_map<std::string, std::string>& contractions() {
  static const std::unordered_map<std::string, std::string> map = {
      {"aint", "ain't"},
      {"arent", "aren't"},
      {"cant", "can't"},
      {"couldve", "could've"},
      {"couldnt", "couldn't"},
      {"couldn'tve", "couldn't've"},
      {"couldnt've", "couldn't've"},
      {"didnt", "didn't"},
      {"doesnt", "doesn't"},
      {"dont", "don't"},
      {"hadnt", "hadn't"},
      {"hadnt've", "hadn't've"},
      {"hadn'tve", "hadn't've"},
      {"hasnt", "hasn't"},
      {"havent", "haven't"},
      {"hed", "he'd"},
      {"hed've", "he'd've"},
      {"he'dve", "he'd've"},
      {"hes", "he's"},
      {"howd", "how'd"},
      {"howll", "how'll"},
      {"hows", "how's"},
      {"Id've", "I'd've"},
      {"I'dve", "I'd've"},
      {"Im", "I'm"},
      {"Ive", "I've"},
      {"isnt", "isn't"},
      {"itd", "it'd"},
      {"itd've", "it'd've"},
      {"it'dve", "it'd've"},
      {"itll", "it'll"},
      {"let's", "let's"},
      {"maam", "ma'am"},
      {"mightnt", "mightn't"},
      {"mightnt've", "mightn't've"},
      {"mightn'tve", "mightn't've"},
      {"mightve", "might've"},
      {"mustnt", "mustn't"},
      {"mustve", "must've"},
      {"neednt", "needn't"},
      {"notve", "not've"},
      {"oclock", "o'clock"},
      {"oughtnt", "oughtn't"},
      {"ow's'at", "'ow's'at"},
      {"'ows'at", "'ow's'at"},
      {"'ow'sat", "'ow's'at"},
      {"shant", "shan't"},
      {"shed've", "she'd've"},
      {"she'dve", "she'd've"},
      {"she's", "she's"},
      {"shouldve", "should've"},
      {"shouldnt", "shouldn't"},
      {"shouldnt've", "shouldn't've"},
      {"shouldn'tve", "shouldn't've"},
      {"somebody'd", "somebodyd"},
      {"somebodyd've", "somebody'd've"},
      {"somebody'dve", "somebody'd've"},
      {"somebodyll", "somebody'll"},
      {"somebodys", "somebody's"},
      {"someoned", "someone'd"},
      {"someoned've", "someone'd've"},
      {"someone'dve", "someone'd've"},
      {"someonell", "someone'll"},
      {"someones", "someone's"},
      {"somethingd", "something'd"},
      {"somethingd've", "something'd've"},
      {"something'dve", "something'd've"},
      {"somethingll", "something'll"},
      {"thats", "that's"},
      {"thered", "there'd"},
      {"thered've", "there'd've"},
      {"there'dve", "there'd've"},
      {"therere", "there're"},
      {"theres", "there's"},
      {"theyd", "they'd"},
      {"theyd've", "they'd've"},
      {"they'dve", "they'd've"},
      {"theyll", "they'll"},
      {"theyre", "they're"},
      {"theyve", "they've"},
      {"twas", "'twas"},
      {"wasnt", "wasn't"},
      {"wed've", "we'd've"},
      {"we'dve", "we'd've"},
      {"weve", "we've"},
      {"werent", "weren't"},
      {"whatll", "what'll"},
      {"whatre", "what're"},
      {"whats", "what's"},
      {"whatve", "what've"},
      {"whens", "when's"},
      {"whered", "where'd"},
      {"wheres", "where's"},
      {"whereve", "where've"},
      {"whod", "who'd"},
      {"whod've", "who'd've"},
      {"who'dve", "who'd've"},
      {"wholl", "who'll"},
      {"whos", "who's"},
      {"whove", "who've"},
      {"whyll", "why'll"},
      {"whyre", "why're"},
      {"whys", "why's"},
      {"wont", "won't"},
      {"wouldve", "would've"},
      {"wouldnt", "wouldn't"},
      {"wouldnt've", "wouldn't've"},
      {"wouldn'tve", "wouldn't've"},
      {"yall", "y'all"},
      {"yall'll", "y'all'll"},
      {"y'allll", "y'all'll"},
      {"yall'd've", "y'all'd've"},
      {"y'alld've", "y'all'd've"},
      {"y'all'dve", "y'all'd've"},
      {"youd", "you'd"},
      {"youd've", "you'd've"},
      {"you'dve", "you'd've"},
      {"youll", "you'll"},
      {"youre", "you're"},
      {"youve", "you've"}};
  return map;
}

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

// The `commaStrip` test of processPunctuation: re.search("(\d)(\,)(\d)") with an ASCII \d.
bool has_digit_comma_digit(std::string_view text) {
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ',' && is_ascii_digit(text[i - 1]) && is_ascii_digit(text[i + 1])) return true;
  }
  return false;
}

// '\n' and '\t' -> ' ', then str.strip().
std::string clean_answer(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return python_strip(s);
}

std::string normalize_answer(std::string_view text) {
  return vqa_process_digit_article(vqa_process_punctuation(text));
}

}  // namespace

std::string vqa_process_punctuation(std::string_view in_text) {
  // Every character handled here is ASCII, so byte-wise work is safe on UTF-8.
  std::string out(in_text);
  const bool comma_between_digits = has_digit_comma_digit(in_text);
  for (char p : kPunct) {
    const std::string p_space = std::string(1, p) + ' ';
    const std::string space_p = std::string(" ") + p;
    // The test looks at the original text, the replacement works on the text so far.
    const bool remove = in_text.find(p_space) != std::string_view::npos ||
                        in_text.find(space_p) != std::string_view::npos || comma_between_digits;
    std::string next;
    next.reserve(out.size());
    for (char c : out) {
      if (c != p) {
        next += c;
      } else if (!remove) {
        next += ' ';
      }
    }
    out = std::move(next);
  }
  // periodStrip "(?!<=\d)(\.)(?!\d)": the first group is a typo'd lookbehind that is really a
  // lookahead for "<=" + digit, always true before a '.', so this removes every '.' that is not
  // followed by an ASCII digit, left to right, the lookahead seeing the unmodified string.
  std::string result;
  result.reserve(out.size());
  int removed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const bool followed_by_digit = i + 1 < out.size() && is_ascii_digit(out[i + 1]);
    if (out[i] == '.' && !followed_by_digit && removed < kMaxPeriodsRemoved) {
      ++removed;
      continue;
    }
    result += out[i];
  }
  return result;
}

std::string vqa_process_digit_article(std::string_view in_text) {
  std::vector<std::string> words;
  for (std::string& word : python_split(unicode_lower(in_text))) {
    auto it = number_words().find(word);
    if (it != number_words().end()) word = it->second;
    if (word == "a" || word == "an" || word == "the") continue;
    words.push_back(std::move(word));
  }
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    auto it = contractions().find(words[i]);
    if (i > 0) out += ' ';
    out += it != contractions().end() ? it->second : words[i];
  }
  return out;
}

double python_round(double x, int ndigits) {
  if (!std::isfinite(x)) return x;
  // printf rounds the exact binary value to the nearest decimal, as Python's round() does;
  // parsing the digits back gives the double Python returns.
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", ndigits, x);
  return std::strtod(buf, nullptr);
}

VqaScores evaluate_vqa(const std::vector<VqaAnnotation>& annotations,
                       const std::vector<VqaResult>& results) {
  std::unordered_map<int64_t, size_t> annotation_index;
  for (size_t i = 0; i < annotations.size(); ++i) {
    const VqaAnnotation& a = annotations[i];
    auto [it, inserted] = annotation_index.emplace(a.question_id, i);
    if (!inserted) {
      fail(ErrorKind::kInvalidArgument, "VQA annotations: question_id ", a.question_id,
           " appears twice (annotations[", it->second, "] and annotations[", i,
           "]); question ids must be unique");
    }
    if (a.answers.empty()) {
      fail(ErrorKind::kInvalidArgument, "VQA annotations: annotations[", i, "] (question_id ",
           a.question_id, ") has no answers; each question needs its human answers");
    }
  }
  if (annotations.empty()) {
    fail(ErrorKind::kInvalidArgument, "VQA annotations: there are no annotated questions to score");
  }
  std::vector<int64_t> result_of(annotations.size(), -1);
  for (size_t r = 0; r < results.size(); ++r) {
    const int64_t id = results[r].question_id;
    auto it = annotation_index.find(id);
    if (it == annotation_index.end()) {
      fail(ErrorKind::kInvalidArgument, "VQA results: entry ", r, " (question_id ", id,
           ") is for a question that is not in the annotations; results must only cover "
           "annotated questions (check that the files belong together)");
    }
    if (result_of[it->second] >= 0) {
      fail(ErrorKind::kInvalidArgument, "VQA results: entry ", r, " (question_id ", id,
           ") is a second answer for that question (first at entry ", result_of[it->second],
           "); keep exactly one answer per question");
    }
    result_of[it->second] = static_cast<int64_t>(r);
  }
  for (size_t i = 0; i < annotations.size(); ++i) {
    if (result_of[i] < 0) {
      size_t missing = 0;
      for (int64_t r : result_of) missing += r < 0 ? 1 : 0;
      fail(ErrorKind::kInvalidArgument, "VQA results: ", missing, " of ", annotations.size(),
           " annotated questions have no answer (first: question_id ", annotations[i].question_id,
           "); the official evaluation needs an answer for every "
           "question");
    }
  }

  VqaScores out;
  std::vector<double> acc_all;
  std::map<std::string, std::vector<double>> acc_by_question_type;
  std::map<std::string, std::vector<double>> acc_by_answer_type;
  for (size_t i = 0; i < annotations.size(); ++i) {
    const VqaAnnotation& a = annotations[i];
    std::vector<VqaAnswer> gts = a.answers;
    for (VqaAnswer& g : gts) g.answer = clean_answer(g.answer);
    std::string prediction = clean_answer(results[result_of[i]].answer);
    std::unordered_set<std::string> distinct;
    for (const VqaAnswer& g : gts) distinct.insert(g.answer);
    const bool normalized = distinct.size() > 1;
    if (normalized) {
      for (VqaAnswer& g : gts) g.answer = normalize_answer(g.answer);
      prediction = normalize_answer(prediction);
    }
    double sum = 0.0;
    for (const VqaAnswer& g : gts) {
      // "Other" answers: those whose whole record differs from this one.
      int matching = 0;
      for (const VqaAnswer& other : gts) {
        const bool same_record = other.answer == g.answer &&
                                 other.answer_confidence == g.answer_confidence &&
                                 other.answer_id == g.answer_id;
        if (!same_record && other.answer == prediction) ++matching;
      }
      sum += std::min(1.0, static_cast<double>(matching) / 3);
    }
    const double acc = sum / static_cast<double>(gts.size());
    acc_all.push_back(acc);
    acc_by_question_type[a.question_type].push_back(acc);
    acc_by_answer_type[a.answer_type].push_back(acc);

    VqaQuestionScore q;
    q.question_id = a.question_id;
    q.question_type = a.question_type;
    q.answer_type = a.answer_type;
    q.accuracy_raw = acc;
    q.accuracy = python_round(100 * acc, 2);
    q.normalized = normalized;
    q.prediction = prediction;
    for (const VqaAnswer& g : gts) q.gt_answers.push_back(g.answer);
    out.per_question.push_back(std::move(q));
  }
  // setAccuracy(): round(100 * float(sum(list)) / len(list), 2), sum left to right.
  const auto mean_percent = [](const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return 100 * s / static_cast<double>(v.size());
  };
  out.overall_unrounded = mean_percent(acc_all);
  out.overall = python_round(out.overall_unrounded, 2);
  for (const auto& [type, v] : acc_by_question_type) {
    out.per_question_type[type] = python_round(mean_percent(v), 2);
  }
  for (const auto& [type, v] : acc_by_answer_type) {
    out.per_answer_type[type] = python_round(mean_percent(v), 2);
  }
  return out;
}

VqaScores evaluate_vqa(const std::vector<VqaQuestion>& questions,
                       const std::vector<VqaAnnotation>& annotations,
                       const std::vector<VqaResult>& results) {
  std::unordered_map<int64_t, size_t> question_index;
  for (size_t i = 0; i < questions.size(); ++i) {
    auto [it, inserted] = question_index.emplace(questions[i].question_id, i);
    if (!inserted) {
      fail(ErrorKind::kInvalidArgument, "VQA questions: question_id ", questions[i].question_id,
           " appears twice (questions[", it->second, "] and questions[", i,
           "]); question ids must be unique");
    }
  }
  for (size_t i = 0; i < annotations.size(); ++i) {
    const VqaAnnotation& a = annotations[i];
    auto it = question_index.find(a.question_id);
    if (it == question_index.end()) {
      fail(ErrorKind::kInvalidArgument, "VQA annotations: annotations[", i, "] (question_id ",
           a.question_id,
           ") has no entry in the questions file; use the questions file that "
           "belongs to these annotations");
    }
    if (questions[it->second].image_id != a.image_id) {
      fail(ErrorKind::kInvalidArgument, "VQA annotations: annotations[", i, "] (question_id ",
           a.question_id, ") is for image ", a.image_id, " but questions[", it->second,
           "] says image ", questions[it->second].image_id,
           "; use the questions file that belongs to these annotations");
    }
  }
  return evaluate_vqa(annotations, results);
}

}  // namespace blip2::eval
