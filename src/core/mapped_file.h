// Read-only memory mapping of a whole file (RAII). Checkpoint weights stay in the page cache and are
// viewed in place when their stored dtype is the compute dtype.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace blip2 {

class MappedFile {
 public:
  // Maps `path` read-only. Throws Error(kNotFound) if it cannot be opened.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string; throws Error(kNotFound) naming the path.
std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace blip2
