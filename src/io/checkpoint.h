// A model folder's weights: model.safetensors, or shards listed by model.safetensors.index.json.
// WeightLoader fetches tensors by the checkpoint's own names under a scope, checks their shapes
// and converts them to the compute dtype:
//
//   WeightLoader w(checkpoint);
//   auto layer = w.scope("qformer.encoder.layer", 3);
//   Tensor q = layer.get("attention.attention.query.weight", {768, 768});
//   // error if absent or mis-shaped: 'qformer.encoder.layer.3.attention.attention.query.weight'
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.h"

namespace blip2 {

class ThreadPool;

class Checkpoint {
 public:
  // Opens the weights of a Hugging Face model folder. Throws Error(kNotFound) naming the folder and
  // what was looked for, or Error(kFormat) for a malformed index or shard.
  static std::shared_ptr<const Checkpoint> open(const std::string& model_dir);
  // Opens a single safetensors file.
  static std::shared_ptr<const Checkpoint> open_file(const std::string& path);
  // Tensors held in memory (e.g. a random model made for a benchmark), served like a file's.
  static std::shared_ptr<const Checkpoint> from_tensors(
      std::vector<std::pair<std::string, Tensor>> tensors, std::string location = "<memory>");

  const TensorInfo* find(std::string_view name) const;
  Tensor get(std::string_view name) const;  // as stored; throws Error(kNotFound)
  std::vector<std::string> names() const;   // sorted
  const std::vector<SafetensorsFile>& files() const { return files_; }
  size_t total_bytes() const;  // bytes of tensor data over all shards
  const std::string& location() const { return location_; }

 private:
  std::string location_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t, std::less<>> owner_;  // tensor name -> index in files_
  // In-memory tensors and their descriptions (owner_ maps them to kMemory).
  static constexpr size_t kMemory = static_cast<size_t>(-1);
  std::map<std::string, std::pair<TensorInfo, Tensor>, std::less<>> memory_;
};

class WeightLoader {
 public:
  explicit WeightLoader(std::shared_ptr<const Checkpoint> checkpoint);

  WeightLoader scope(std::string_view name) const;                 // prefix + name + "."
  WeightLoader scope(std::string_view name, int64_t index) const;  // prefix + name.index + "."
  std::string key(std::string_view name) const { return prefix_ + std::string(name); }
  bool has(std::string_view name) const;
  // The stored dtype and shape of a tensor (null when absent); does not count as a use.
  const TensorInfo* info(std::string_view name) const;

  // A pool for the conversions done while loading (dtype widening, quantisation); scopes
  // inherit it. Null (the default) converts on the calling thread.
  void set_pool(ThreadPool* pool) { pool_ = pool; }
  ThreadPool* pool() const { return pool_; }
  // Drops the resident pages of `t` when it is a view of a mapped checkpoint file whose data was
  // converted and is no longer needed in its stored form (madvise MADV_DONTNEED on the pages
  // wholly inside it: they stay in the page cache and come back on access, so this is safe even
  // if someone reads the view again). No-op for owned tensors.
  void release(const Tensor& t) const;

  // Tensors made while loading in place of stored ones (quantised weights converted from float
  // ones), by full checkpoint name, in load order: what `blip2 quantize` writes. Recorded only
  // when a sink is set; scopes share it. Loading is single-threaded, so the sink needs no lock.
  struct ConversionSink {
    std::vector<std::pair<std::string, Tensor>> tensors;
    std::function<void(const std::string& name)> on_record;  // optional (progress)
  };
  void set_conversion_sink(std::shared_ptr<ConversionSink> sink) { sink_ = std::move(sink); }
  void record_converted(std::string_view name, const Tensor& t) const {
    if (!sink_ || !t.defined()) return;
    sink_->tensors.emplace_back(key(name), t);
    if (sink_->on_record) sink_->on_record(sink_->tensors.back().first);
  }

  // The tensor as f32 with exactly `shape` (converted from F16/BF16/F64 if stored so; a zero-copy
  // view of the mapping when stored as aligned F32). Error(kFormat) names the full key and both
  // shapes; Error(kNotFound) names the key and the checkpoint.
  Tensor get(std::string_view name, const Shape& shape) const;
  // Shape-checked, in the stored dtype (for reduced-precision weights).
  Tensor get_stored(std::string_view name, const Shape& shape) const;

  // Checkpoint tensors that no get() asked for (e.g. to warn about unexpected weights).
  std::vector<std::string> unused_keys() const;
  const Checkpoint& checkpoint() const { return *checkpoint_; }

 private:
  struct Used {
    std::mutex mutex;
    std::set<std::string> keys;
  };
  std::shared_ptr<const Checkpoint> checkpoint_;
  std::shared_ptr<Used> used_;
  std::string prefix_;
  ThreadPool* pool_ = nullptr;
  std::shared_ptr<ConversionSink> sink_;
};

}  // namespace blip2
