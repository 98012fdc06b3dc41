#include "io/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backend/cpu/kernels.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"

namespace blip2 {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::shared_ptr<const Checkpoint> Checkpoint::open_file(const std::string& path) {
  auto ck = std::make_shared<Checkpoint>();
  ck->location_ = path;
  ck->files_.push_back(SafetensorsFile::open(path));
  for (const auto& t : ck->files_[0].tensors()) ck->owner_.emplace(t.name, 0);
  return ck;
}

std::shared_ptr<const Checkpoint> Checkpoint::from_tensors(
    std::vector<std::pair<std::string, Tensor>> tensors, std::string location) {
  auto ck = std::make_shared<Checkpoint>();
  ck->location_ = std::move(location);
  for (auto& [name, t] : tensors) {
    TensorInfo info;
    info.name = name;
    info.dtype = t.dtype();
    info.shape = t.shape();
    info.end = t.nbytes();
    Tensor c = t.contiguous();
    if (!ck->memory_.emplace(name, std::make_pair(std::move(info), std::move(c))).second)
      fail(ErrorKind::kInvalidArgument, "duplicate tensor \"", name, "\" in ", ck->location_);
    ck->owner_.emplace(name, kMemory);
  }
  return ck;
}

std::shared_ptr<const Checkpoint> Checkpoint::open(const std::string& model_dir) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir))
    fail(ErrorKind::kNotFound, "model folder ", model_dir, " does not exist or is not a folder");
  const fs::path index = dir / "model.safetensors.index.json";
  const fs::path single = dir / "model.safetensors";
  if (fs::exists(index)) {
    json j;
    try {
      j = json::parse(read_text_file(index.string()));
    } catch (const json::exception& e) {
      fail(ErrorKind::kFormat, index.string(), ": not valid JSON (", e.what(), ")");
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail(ErrorKind::kFormat, index.string(), ": no \"weight_map\" object");
    auto ck = std::make_shared<Checkpoint>();
    ck->location_ = model_dir;
    std::map<std::string, size_t> shard_index;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail(ErrorKind::kFormat, index.string(), ": weight_map[\"", it.key(),
             "\"] is not a file name");
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
        fail(ErrorKind::kFormat, index.string(), ": weight_map[\"", it.key(),
             "\"] names an invalid shard file \"", shard, "\"");
      auto [pos, inserted] = shard_index.emplace(shard, ck->files_.size());
      if (inserted) {
        const fs::path shard_path = dir / shard;
        if (!fs::exists(shard_path))
          fail(ErrorKind::kNotFound, "shard ", shard_path.string(), " listed in ", index.string(),
               " is missing; download all shards of the checkpoint");
        ck->files_.push_back(SafetensorsFile::open(shard_path.string()));
      }
      const SafetensorsFile& file = ck->files_[pos->second];
      if (!file.find(it.key()))
        fail(ErrorKind::kFormat, index.string(), " says tensor \"", it.key(), "\" is in ", shard,
             " but that shard has no such tensor");
      ck->owner_.emplace(it.key(), pos->second);
    }
    return ck;
  }
  if (fs::exists(single)) {
    auto ck = open_file(single.string());
    std::const_pointer_cast<Checkpoint>(ck)->location_ = model_dir;
    return ck;
  }
  std::string hint;
  if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json"))
    hint =
        " The folder has only PyTorch .bin weights: download the safetensors revision of the "
        "checkpoint (the Hugging Face hub serves model.safetensors for every BLIP-2 model).";
  fail(ErrorKind::kNotFound, "no weights in ", model_dir,
       ": expected model.safetensors or model.safetensors.index.json.", hint);
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) return nullptr;
  if (it->second == kMemory) return &memory_.find(name)->second.first;
  return files_[it->second].find(name);
}

Tensor Checkpoint::get(std::string_view name) const {
  auto it = owner_.find(name);
  if (it == owner_.end())
    fail(ErrorKind::kNotFound, "checkpoint ", location_, " has no tensor \"", name, "\"");
  if (it->second == kMemory) return memory_.find(name)->second.second;
  return files_[it->second].get(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(owner_.size());
  for (const auto& [name, _] : owner_) out.push_back(name);
  return out;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, idx] : owner_) {
    const TensorInfo* t = find(name);
    n += t->end - t->begin;
  }
  return n;
}

// ---------------------------------------------------------------- WeightLoader

WeightLoader::WeightLoader(std::shared_ptr<const Checkpoint> checkpoint)
    : checkpoint_(std::move(checkpoint)), used_(std::make_shared<Used>()) {}

WeightLoader WeightLoader::scope(std::string_view name) const {
  WeightLoader w = *this;
  w.prefix_ = prefix_ + std::string(name) + ".";
  return w;
}

WeightLoader WeightLoader::scope(std::string_view name, int64_t index) const {
  WeightLoader w = *this;
  w.prefix_ = str_cat(prefix_, name, ".", index, ".");
  return w;
}

bool WeightLoader::has(std::string_view name) const {
  return checkpoint_->find(key(name)) != nullptr;
}

const TensorInfo* WeightLoader::info(std::string_view name) const {
  return checkpoint_->find(key(name));
}

void WeightLoader::release(const Tensor& t) const {
  if (!t.defined() || t.is_writable() || t.nbytes() == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.raw_data());
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + t.nbytes()) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Tensor WeightLoader::get_stored(std::string_view name, const Shape& shape) const {
  const std::string k = key(name);
  const TensorInfo* info = checkpoint_->find(k);
  if (!info)
    fail(ErrorKind::kNotFound, "checkpoint ", checkpoint_->location(), " has no tensor \"", k,
         "\", which the config requires; the checkpoint does not match its config.json");
  if (info->shape != shape)
    fail(ErrorKind::kFormat, "tensor \"", k, "\" in ", checkpoint_->location(), " has shape ",
         shape_to_string(info->shape), " but the config implies ", shape_to_string(shape),
         "; the checkpoint does not match its config.json");
  {
    std::lock_guard<std::mutex> lock(used_->mutex);
    used_->keys.insert(k);
  }
  return checkpoint_->get(k);
}

Tensor WeightLoader::get(std::string_view name, const Shape& shape) const {
  Tensor t = get_stored(name, shape);
  if (t.dtype() == DType::kF32) return t;
  if (!is_float_dtype(t.dtype()))
    fail(ErrorKind::kUnsupported, "tensor \"", key(name), "\" has dtype ", dtype_name(t.dtype()),
         "; only F32, F16 and BF16 weights are supported");
  if (t.dtype() == DType::kF64 || !t.is_contiguous()) return t.to(DType::kF32);
  // F16 / BF16: the vectorised conversions, split over the pool for large tensors.
  Tensor out = Tensor::empty(DType::kF32, t.shape());
  const uint16_t* src = t.data<uint16_t>();
  float* dst = out.mutable_data<float>();
  const int64_t n = t.numel();
  const bool bf16 = t.dtype() == DType::kBF16;
  auto convert = [&](size_t b, size_t e) {
    const int64_t i = static_cast<int64_t>(b), len = static_cast<int64_t>(e - b);
    if (bf16) {
      cpu::bf16_to_f32(src + i, dst + i, len);
    } else {
      cpu::f16_to_f32(src + i, dst + i, len);
    }
  };
  if (pool_ != nullptr) {
    pool_->parallel_for(static_cast<size_t>(n), size_t{1} << 20, convert);
  } else {
    convert(0, static_cast<size_t>(n));
  }
  release(t);
  return out;
}

std::vector<std::string> WeightLoader::unused_keys() const {
  std::lock_guard<std::mutex> lock(used_->mutex);
  std::vector<std::string> out;
  for (const auto& name : checkpoint_->names())
    if (!used_->keys.count(name)) out.push_back(name);
  return out;
}

}  // namespace blip2
