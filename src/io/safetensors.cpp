#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"

namespace blip2 {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  fail(ErrorKind::kFormat, path, ": not a valid safetensors file: ", what,
       ". Re-download or re-export the checkpoint.");
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile st;
  st.path_ = path;
  st.file_ = MappedFile::open(path);
  const size_t size = st.file_->size();
  const uint8_t* data = st.file_->data();
  if (size < 8)
    bad(path, str_cat("file is ", size, " bytes, shorter than the 8-byte header length"));
  const uint64_t header_len = read_u64_le(data);
  if (header_len > kMaxHeaderBytes)
    bad(path, str_cat("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes));
  if (header_len > size - 8)
    bad(path, str_cat("header length ", header_len, " runs past the end of the file (", size,
                      " bytes); the file is truncated"));
  if (header_len < 2) bad(path, "header is empty");
  const char* header = reinterpret_cast<const char*>(data + 8);
  const size_t data_start = 8 + static_cast<size_t>(header_len);
  const size_t data_size = size - data_start;

  json j;
  try {
    j = json::parse(header, header + header_len);
  } catch (const json::exception& e) {
    bad(path, str_cat("header is not valid JSON (", e.what(), ")"));
  }
  if (!j.is_object()) bad(path, "header is not a JSON object");

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) bad(path, "__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string())
          bad(path, str_cat("__metadata__[\"", m.key(), "\"] is not a string"));
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = str_cat("tensor \"", name, "\"");
    if (!e.is_object()) bad(path, where + " is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) bad(path, where + " has no dtype string");
    if (!e.contains("shape") || !e["shape"].is_array()) bad(path, where + " has no shape array");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2)
      bad(path, where + " has no [begin, end] data_offsets");
    TensorInfo info;
    info.name = name;
    const std::string dtype = e["dtype"].get<std::string>();
    const auto dt = dtype_from_name(dtype);
    if (!dt) bad(path, str_cat(where, " has unknown dtype \"", dtype, "\""));
    info.dtype = *dt;
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned())
        bad(path,
            str_cat(where, " has a shape entry that is not a non-negative integer: ", d.dump()));
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        bad(path, str_cat(where, " has a dimension too large: ", v));
      info.shape.push_back(static_cast<int64_t>(v));
    }
    int64_t numel = 0;
    try {
      numel = checked_numel(info.shape);
    } catch (const Error&) {
      bad(path,
          str_cat(where, " has shape ", shape_to_string(info.shape), " whose size overflows"));
    }
    const auto& off = e["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad(path, where + " has data_offsets that are not non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en) bad(path, str_cat(where, " has data_offsets [", b, ", ", en, "] with begin > end"));
    if (en > data_size)
      bad(path, str_cat(where, " has data_offsets [", b, ", ", en, "] outside the data section (",
                        data_size, " bytes); the file is truncated or corrupt"));
    const uint64_t esize = dtype_size(info.dtype);
    if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / esize ||
        static_cast<uint64_t>(numel) * esize != en - b)
      bad(path, str_cat(where, " with dtype ", dtype, " and shape ", shape_to_string(info.shape),
                        " needs ", static_cast<uint64_t>(numel) * esize,
                        " bytes but data_offsets span ", en - b));
    info.begin = data_start + b;
    info.end = data_start + en;
    st.tensors_.push_back(std::move(info));
  }

  std::sort(st.tensors_.begin(), st.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Sorted by begin, a non-empty tensor overlaps an earlier one iff it starts before the furthest
  // end seen so far.
  size_t max_end = 0;
  const TensorInfo* max_owner = nullptr;
  for (const TensorInfo& cur : st.tensors_) {
    if (cur.end == cur.begin) continue;
    if (max_owner != nullptr && cur.begin < max_end)
      bad(path, str_cat("tensors \"", max_owner->name, "\" and \"", cur.name, "\" overlap"));
    if (cur.end > max_end) {
      max_end = cur.end;
      max_owner = &cur;
    }
  }
  for (size_t i = 0; i < st.tensors_.size(); ++i) st.index_.emplace(st.tensors_[i].name, i);
  return st;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

size_t SafetensorsFile::file_size() const {
  return file_->size();
}

Tensor SafetensorsFile::get(std::string_view name) const {
  const TensorInfo* info = find(name);
  if (!info) fail(ErrorKind::kNotFound, path_, ": no tensor named \"", name, "\"");
  const size_t bytes = info->end - info->begin;
  const size_t esize = dtype_size(info->dtype);
  if (info->begin % esize == 0)
    return Tensor::from_buffer(Buffer::view_of(file_, info->begin, bytes), 0, info->dtype,
                               info->shape);
  Tensor t = Tensor::empty(info->dtype, info->shape);  // misaligned: copy
  std::memcpy(t.raw_mutable_data(), file_->data() + info->begin, bytes);
  return t;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  contiguous.reserve(tensors.size());
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || header.contains(name))
      fail(ErrorKind::kInvalidArgument, "cannot write ", path,
           ": duplicate or reserved tensor name \"", name, "\"");
    contiguous.push_back(t.contiguous());
    const size_t n = t.nbytes();
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // keep the data section 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(ErrorKind::kNotFound, "cannot write ", tmp, ": ", std::strerror(errno));
    uint8_t len[8];
    uint64_t v = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(v >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const Tensor& t : contiguous)
      out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
    if (!out) fail(ErrorKind::kResource, "error writing ", tmp, " (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    fail(ErrorKind::kResource, "cannot rename ", tmp, " to ", path, ": ", std::strerror(errno));
}

}  // namespace blip2
