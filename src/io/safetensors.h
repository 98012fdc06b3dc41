// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data.
// The reader maps the file and validates every entry before anything is used: known dtype, shape
// product without overflow, byte size = numel * dtype size, offsets inside the data section, no
// two tensors overlapping, and a header of sane length. Tensors are zero-copy views of the mapping.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace blip2 {

class MappedFile;

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  size_t begin = 0;  // absolute byte offsets in the file
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Largest header accepted (the real BLIP-2 shards have headers of ~100 KB).
  static constexpr size_t kMaxHeaderBytes = 100u << 20;

  // Maps and validates `path`; throws Error(kFormat) naming the file and the bad entry.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file (offset) order
  const TensorInfo* find(std::string_view name) const;
  // A view of the tensor's bytes (copied only when the data is not aligned to its element size).
  Tensor get(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  size_t file_size() const;

 private:
  std::string path_;
  std::shared_ptr<const MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (contiguous or not; any dtype) to `path` in safetensors format, in the given
// order, with 8-byte aligned data. Writes to a temporary file and renames it into place.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace blip2
