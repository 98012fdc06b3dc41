#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/test_util.h"
#include "io/safetensors.h"

namespace blip2 {
namespace {

using test::TempDir;

void write_raw(const std::string& path, uint64_t header_len, const std::string& header,
               const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(header_len >> (8 * i)));
  out << header << data;
}

void write_file(const std::string& path, const std::string& header, const std::string& data) {
  write_raw(path, header.size(), header, data);
}

// Expects opening `path` to throw a kFormat Error whose message contains `fragment`.
void expect_format_error(const std::string& path, const std::string& fragment) {
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFormat) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "message names the file";
  }
}

TEST(Safetensors, ReadsFixtureCheckpoint) {
  auto st = SafetensorsFile::open(test::data_path("opt-tiny/model.safetensors"));
  const TensorInfo* info = st.find("query_tokens");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->dtype, DType::kF32);
  EXPECT_EQ(info->shape, (Shape{1, 32, 64}));
  Tensor t = st.get("vision_model.embeddings.patch_embedding.weight");
  EXPECT_EQ(t.shape(), (Shape{64, 3, 14, 14}));
  EXPECT_FALSE(t.is_writable()) << "weights are views of the mapping";
  EXPECT_EQ(st.find("language_model.lm_head.weight"), nullptr) << "tied, not stored";
}

TEST(Safetensors, WriteThenReadRoundTripsEveryDtype) {
  TempDir dir;
  Tensor f = Tensor::from_floats({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor h = f.to(DType::kF16), b = f.to(DType::kBF16);
  Tensor ids = Tensor::empty(DType::kI64, {3});
  ids.mutable_data<int64_t>()[2] = -7;
  Tensor strided = f.slice(1, 1, 3);  // non-contiguous input is written contiguously
  write_safetensors(dir.file("a.safetensors"),
                    {{"f", f}, {"h", h}, {"b", b}, {"ids", ids}, {"s", strided}},
                    {{"format", "pt"}});
  auto st = SafetensorsFile::open(dir.file("a.safetensors"));
  EXPECT_EQ(st.tensors().size(), 5u);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.get("h").dtype(), DType::kF16);
  Tensor back = st.get("b").to(DType::kF32);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.data<float>()[i], f.data<float>()[i]);
  EXPECT_EQ(st.get("ids").data<int64_t>()[2], -7);
  Tensor s = st.get("s");
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s.data<float>()[2], 5.0f);
}

TEST(Safetensors, EmptyTensorsAndZeroDims) {
  TempDir dir;
  write_file(
      dir.file("e.safetensors"),
      R"({"a":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
      std::string(4, '\0'));
  auto st = SafetensorsFile::open(dir.file("e.safetensors"));
  EXPECT_EQ(st.get("a").numel(), 0);
  EXPECT_EQ(st.get("b").numel(), 1);
}

struct Malformed {
  const char* name;
  std::string header;
  std::string data;
  const char* fragment;
};

TEST(Safetensors, MalformedFilesGiveClearErrors) {
  TempDir dir;
  const std::string four(4, '\0');
  const std::vector<Malformed> cases = {
      {"non_json", "{not json", four, "not valid JSON"},
      {"not_object", "[1,2,3]", "", "not a JSON object"},
      {"unknown_dtype", R"({"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,4]}})", four,
       "unknown dtype"},
      {"missing_dtype", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", four, "no dtype"},
      {"negative_dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four,
       "not a non-negative integer"},
      {"float_dim", R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", four,
       "not a non-negative integer"},
      {"huge_dims",
       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})",
       four, "overflows"},
      {"size_mismatch", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four,
       "needs 8 bytes"},
      {"offset_past_end", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", four,
       "outside the data section"},
      {"begin_after_end", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", four,
       "begin > end"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       std::string(8, '\0'), "overlap"},
      {"overlap_around_empty",
       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"c":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
       std::string(16, '\0'), "overlap"},
      {"offsets_not_pair", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", four,
       "data_offsets"},
      {"metadata_not_strings", R"({"__metadata__":{"x":1}})", "", "__metadata__"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(std::string(c.name) + ".safetensors");
    write_file(path, c.header, c.data);
    expect_format_error(path, c.fragment);
  }
}

TEST(Safetensors, TruncatedAndLyingHeaders) {
  TempDir dir;
  {
    std::ofstream out(dir.file("short.safetensors"), std::ios::binary);
    out << "abc";
  }
  expect_format_error(dir.file("short.safetensors"), "shorter than the 8-byte header length");
  write_raw(dir.file("past_eof.safetensors"), 1000, "{}", "");
  expect_format_error(dir.file("past_eof.safetensors"), "runs past the end of the file");
  write_raw(dir.file("insane.safetensors"), 1ULL << 60, "{}", "");
  expect_format_error(dir.file("insane.safetensors"), "exceeds the limit");
  // A real checkpoint cut in half: the header survives but the data does not.
  const std::string src = read_text_file(test::data_path("opt-tiny/model.safetensors"));
  {
    std::ofstream out(dir.file("half.safetensors"), std::ios::binary);
    out.write(src.data(), static_cast<std::streamsize>(src.size() / 2));
  }
  expect_format_error(dir.file("half.safetensors"), "truncated");
}

TEST(Safetensors, MissingFileIsNotFound) {
  try {
    SafetensorsFile::open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST(Safetensors, MisalignedDataIsCopied) {
  TempDir dir;
  // Header of odd length puts the data at an odd offset.
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  float v[2] = {1.5f, -2.0f};
  std::string data(reinterpret_cast<const char*>(v), 8);
  ASSERT_NE((8 + header.size()) % 4, 0u);
  write_file(dir.file("m.safetensors"), header, data);
  Tensor t = SafetensorsFile::open(dir.file("m.safetensors")).get("a");
  EXPECT_EQ(t.data<float>()[0], 1.5f);
  EXPECT_EQ(t.data<float>()[1], -2.0f);
}

}  // namespace
}  // namespace blip2
