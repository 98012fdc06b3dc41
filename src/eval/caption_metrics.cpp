#include "eval/caption_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "eval/unicode_text.h"

namespace blip2::eval {
namespace {

constexpr double kBleuSmall = 1e-9;            // bleu_scorer.py `small`
constexpr double kBleuTiny = 1e-15;            // bleu_scorer.py `tiny`
constexpr double kRougeBeta = 1.2;             // rouge.py
constexpr double kCiderSigma = 6.0;            // cider_scorer.py
constexpr double kNumpyE = 2.718281828459045;  // np.e (CIDEr's penalty is np.e ** x, not exp)

// n-gram counts in first-occurrence order, like the Python defaultdict they mirror: the order
// fixes the order of floating-point sums in CIDEr-D.
class NgramCounts {
 public:
  void add(std::string key, int order) {
    auto [it, inserted] = index_.try_emplace(key, entries_.size());
    if (inserted) {
      entries_.push_back({std::move(key), order, 1});
    } else {
      ++entries_[it->second].count;
    }
  }
  int count(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? 0 : entries_[it->second].count;
  }
  struct Entry {
    std::string key;
    int order;  // n - 1
    int count;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// precook(): n-grams of str.split() tokens for n = 1..4, keyed by the tokens joined with 0x1F
// (a Python whitespace character, so never inside a token).
NgramCounts precook(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (int k = 1; k <= kBleuOrder; ++k) {
    for (size_t i = 0; i + k <= words.size(); ++i) {
      std::string key = words[i];
      for (int j = 1; j < k; ++j) {
        key += '\x1f';
        key += words[i + j];
      }
      counts.add(std::move(key), k - 1);
    }
  }
  return counts;
}

void check_images(const std::vector<TokenizedImage>& images, const char* metric) {
  if (images.empty()) {
    fail(ErrorKind::kInvalidArgument, metric, ": no images to score; pass at least one image ",
         "with a candidate and references");
  }
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].refs.empty()) {
      fail(ErrorKind::kInvalidArgument, metric, ": image ", images[i].image_id, " (index ", i,
           ") has no reference captions; every scored image needs at least one");
    }
  }
}

// numpy's pairwise_sum for float64 (numpy/core/src/umath/loops_utils.h): 8 accumulators for
// blocks up to 128 elements, recursive halving above.
double pairwise_sum(const double* a, size_t n) {
  constexpr size_t kBlock = 128;
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= kBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// my_lcs() of rouge.py: length of the longest common subsequence of two token lists.
size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::vector<std::string>& longer = a.size() >= b.size() ? a : b;
  const std::vector<std::string>& shorter = a.size() >= b.size() ? b : a;
  std::vector<size_t> prev(shorter.size() + 1, 0), cur(shorter.size() + 1, 0);
  for (size_t i = 1; i <= longer.size(); ++i) {
    for (size_t j = 1; j <= shorter.size(); ++j) {
      cur[j] = longer[i - 1] == shorter[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[shorter.size()];
}

// counts2vec() of cider_scorer.py: tf-idf weight per n-gram, one L2 norm per n, and the
// "length" used by the Gaussian penalty (the number of bigrams).
struct CiderVector {
  std::vector<std::unordered_map<std::string, double>> weights;  // [n] -> n-gram -> weight
  std::vector<const NgramCounts::Entry*> order;                  // iteration order
  std::vector<double> weight_in_order;
  std::array<double, kBleuOrder> norm{};
  int64_t length = 0;
};

CiderVector counts_to_vector(const NgramCounts& counts,
                             const std::unordered_map<std::string, double>& document_frequency,
                             double ref_len) {
  CiderVector v;
  v.weights.resize(kBleuOrder);
  std::array<double, kBleuOrder> sum_sq{};
  for (const NgramCounts::Entry& e : counts.entries()) {
    auto it = document_frequency.find(e.key);
    const double df_count = it == document_frequency.end() ? 0.0 : it->second;
    const double df = std::log(std::max(1.0, df_count));
    const double w = static_cast<double>(e.count) * (ref_len - df);
    v.weights[e.order][e.key] = w;
    v.order.push_back(&e);
    v.weight_in_order.push_back(w);
    sum_sq[e.order] += std::pow(w, 2);
    if (e.order == 1) v.length += e.count;
  }
  for (int n = 0; n < kBleuOrder; ++n) v.norm[n] = std::sqrt(sum_sq[n]);
  return v;
}

// sim() of cider_scorer.py for one hypothesis/reference pair, per n.
std::array<double, kBleuOrder> cider_similarity(const CiderVector& hyp, const CiderVector& ref) {
  const double delta = static_cast<double>(hyp.length - ref.length);
  std::array<double, kBleuOrder> val{};
  for (size_t i = 0; i < hyp.order.size(); ++i) {
    const NgramCounts::Entry& e = *hyp.order[i];
    const auto& ref_weights = ref.weights[e.order];
    auto it = ref_weights.find(e.key);
    const double ref_w = it == ref_weights.end() ? 0.0 : it->second;
    val[e.order] += std::min(hyp.weight_in_order[i], ref_w) * ref_w;
  }
  const double penalty = std::pow(kNumpyE, -std::pow(delta, 2) / (2 * std::pow(kCiderSigma, 2)));
  for (int n = 0; n < kBleuOrder; ++n) {
    if (hyp.norm[n] != 0 && ref.norm[n] != 0) val[n] /= (hyp.norm[n] * ref.norm[n]);
    val[n] *= penalty;
  }
  return val;
}

}  // namespace

double numpy_mean(const std::vector<double>& values) {
  BLIP2_CHECK(!values.empty(), "numpy_mean of an empty list");
  // add.reduce starts from the first element and adds the pairwise sum of the rest.
  const double sum = values[0] + pairwise_sum(values.data() + 1, values.size() - 1);
  return sum / static_cast<double>(values.size());
}

BleuScores compute_bleu(const std::vector<TokenizedImage>& images) {
  check_images(images, "BLEU");
  BleuScores out;
  BleuTotals& t = out.totals;
  out.per_image.reserve(images.size());
  for (const TokenizedImage& image : images) {
    // cook_refs(): reference lengths and the per-n-gram maximum count over the references.
    std::vector<int64_t> reflens;
    std::unordered_map<std::string, int> max_counts;
    for (const std::string& ref : image.refs) {
      const std::vector<std::string> words = python_split(ref);
      reflens.push_back(static_cast<int64_t>(words.size()));
      const NgramCounts counts = precook(words);
      for (const NgramCounts::Entry& e : counts.entries()) {
        int& m = max_counts[e.key];
        m = std::max(m, e.count);
      }
    }
    // cook_test() with eff="closest": nearest reference length, ties to the shorter one.
    const std::vector<std::string> words = python_split(image.candidate);
    const int64_t testlen = static_cast<int64_t>(words.size());
    int64_t reflen = reflens.front();
    for (int64_t l : reflens) {
      const int64_t d = std::llabs(l - testlen);
      const int64_t best_d = std::llabs(reflen - testlen);
      if (d < best_d || (d == best_d && l < reflen)) reflen = l;
    }
    std::array<int64_t, kBleuOrder> guess{}, correct{};
    for (int k = 0; k < kBleuOrder; ++k) guess[k] = std::max<int64_t>(0, testlen - k);
    const NgramCounts test_counts = precook(words);
    for (const NgramCounts::Entry& e : test_counts.entries()) {
      auto it = max_counts.find(e.key);
      correct[e.order] += std::min(it == max_counts.end() ? 0 : it->second, e.count);
    }
    t.testlen += testlen;
    t.reflen += reflen;
    for (int k = 0; k < kBleuOrder; ++k) {
      t.guess[k] += guess[k];
      t.correct[k] += correct[k];
    }
    // Per-image BLEU: same formula and constants on this image's counts.
    std::array<double, kBleuOrder> b{};
    double bleu = 1.0;
    for (int k = 0; k < kBleuOrder; ++k) {
      bleu *= (static_cast<double>(correct[k]) + kBleuTiny) /
              (static_cast<double>(guess[k]) + kBleuSmall);
      b[k] = std::pow(bleu, 1.0 / (k + 1.0));
    }
    const double ratio =
        (static_cast<double>(testlen) + kBleuTiny) / (static_cast<double>(reflen) + kBleuSmall);
    if (ratio < 1) {
      for (int k = 0; k < kBleuOrder; ++k) b[k] *= std::exp(1 - 1 / ratio);
    }
    out.per_image.push_back(b);
  }
  double bleu = 1.0;
  for (int k = 0; k < kBleuOrder; ++k) {
    bleu *= (static_cast<double>(t.correct[k]) + kBleuTiny) /
            (static_cast<double>(t.guess[k]) + kBleuSmall);
    out.corpus[k] = std::pow(bleu, 1.0 / (k + 1.0));
  }
  t.ratio =
      (static_cast<double>(t.testlen) + kBleuTiny) / (static_cast<double>(t.reflen) + kBleuSmall);
  if (t.ratio < 1) {
    for (int k = 0; k < kBleuOrder; ++k) out.corpus[k] *= std::exp(1 - 1 / t.ratio);
  }
  return out;
}

MetricScores compute_rouge_l(const std::vector<TokenizedImage>& images) {
  check_images(images, "ROUGE-L");
  MetricScores out;
  out.per_image.reserve(images.size());
  const double beta_sq = std::pow(kRougeBeta, 2);
  for (const TokenizedImage& image : images) {
    const std::vector<std::string> cand = python_split_space(image.candidate);
    double prec_max = 0.0, rec_max = 0.0;
    bool first = true;
    for (const std::string& ref_text : image.refs) {
      const std::vector<std::string> ref = python_split_space(ref_text);
      const double lcs = static_cast<double>(lcs_length(ref, cand));
      const double prec = lcs / static_cast<double>(cand.size());
      const double rec = lcs / static_cast<double>(ref.size());
      prec_max = first ? prec : std::max(prec_max, prec);
      rec_max = first ? rec : std::max(rec_max, rec);
      first = false;
    }
    double score = 0.0;
    if (prec_max != 0 && rec_max != 0) {
      score = ((1 + beta_sq) * prec_max * rec_max) / (rec_max + beta_sq * prec_max);
    }
    out.per_image.push_back(score);
  }
  out.corpus = numpy_mean(out.per_image);
  return out;
}

MetricScores compute_cider_d(const std::vector<TokenizedImage>& images) {
  check_images(images, "CIDEr-D");
  std::vector<std::vector<NgramCounts>> crefs(images.size());
  std::vector<NgramCounts> ctest;
  ctest.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    for (const std::string& ref : images[i].refs) crefs[i].push_back(precook(python_split(ref)));
    ctest.push_back(precook(python_split(images[i].candidate)));
  }
  // compute_doc_freq(): in how many images' reference sets each n-gram occurs.
  std::unordered_map<std::string, double> document_frequency;
  for (const auto& refs : crefs) {
    std::unordered_map<std::string, bool> seen;
    for (const NgramCounts& ref : refs) {
      for (const NgramCounts::Entry& e : ref.entries()) {
        if (seen.emplace(e.key, true).second) document_frequency[e.key] += 1.0;
      }
    }
  }
  const double ref_len = std::log(static_cast<double>(crefs.size()));
  MetricScores out;
  out.per_image.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const CiderVector hyp = counts_to_vector(ctest[i], document_frequency, ref_len);
    std::array<double, kBleuOrder> score{};
    for (const NgramCounts& ref_counts : crefs[i]) {
      const CiderVector ref = counts_to_vector(ref_counts, document_frequency, ref_len);
      const std::array<double, kBleuOrder> s = cider_similarity(hyp, ref);
      for (int n = 0; n < kBleuOrder; ++n) score[n] += s[n];
    }
    double avg = numpy_mean(std::vector<double>(score.begin(), score.end()));
    avg /= static_cast<double>(crefs[i].size());
    avg *= 10.0;
    out.per_image.push_back(avg);
  }
  out.corpus = numpy_mean(out.per_image);
  return out;
}

CaptionScores score_tokenized(const std::vector<TokenizedImage>& images) {
  const BleuScores bleu = compute_bleu(images);
  const MetricScores rouge = compute_rouge_l(images);
  const MetricScores cider = compute_cider_d(images);
  CaptionScores out;
  out.bleu = bleu.corpus;
  out.bleu_totals = bleu.totals;
  out.rouge_l = rouge.corpus;
  out.cider = cider.corpus;
  out.per_image.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    out.per_image.push_back(
        {images[i].image_id, bleu.per_image[i], rouge.per_image[i], cider.per_image[i]});
  }
  return out;
}

}  // namespace blip2::eval
