#include "nn/weight_format.h"

#include <algorithm>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "io/checkpoint.h"

namespace blip2 {

WeightPolicy WeightPolicy::for_format(WeightFormat f) {
  WeightPolicy p;
  switch (f) {
    case WeightFormat::kF32:
      break;
    case WeightFormat::kBF16:
      p.vision = p.language_model = p.lm_head = WeightFormat::kBF16;
      break;
    case WeightFormat::kInt8:
      p.vision = p.language_model = p.lm_head = WeightFormat::kInt8;
      break;
    case WeightFormat::kQ4:
      p.language_model = WeightFormat::kQ4;
      p.lm_head = WeightFormat::kInt8;
      break;
  }
  return p;
}

cpu::WeightView weight_view(WeightFormat format, const Tensor& weight, const Tensor& scale) {
  const int64_t out = weight.dim(0);
  switch (format) {
    case WeightFormat::kF32:
      return cpu::WeightView::f32(weight.data<float>(), out, weight.dim(1));
    case WeightFormat::kBF16:
      return cpu::WeightView::bf16(weight.data<uint16_t>(), out, weight.dim(1));
    case WeightFormat::kInt8:
      return cpu::WeightView::int8(weight.data<int8_t>(), scale.data<float>(), out, weight.dim(1));
    case WeightFormat::kQ4:
      return cpu::WeightView::q4(weight.data<uint8_t>(), scale.data<uint16_t>(), out,
                                 2 * weight.dim(1));
  }
  return {};
}

std::string WeightPolicy::describe() const {
  return str_cat("vision ", weight_format_name(vision), ", language model ",
                 weight_format_name(language_model), ", lm head ", weight_format_name(lm_head));
}

namespace {

// Rows per conversion task: ~1M weights, so a 2560 x 2560 matrix is a handful of tasks.
int64_t rows_per_task(int64_t in) {
  return std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(in, 1));
}

template <typename Fn>
void for_row_chunks(ThreadPool* pool, int64_t rows, int64_t in, const Fn& fn) {
  const int64_t chunk = rows_per_task(in);
  const int64_t tasks = (rows + chunk - 1) / chunk;
  auto task = [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * chunk;
    fn(r0, std::min(rows, r0 + chunk));
  };
  if (pool == nullptr || tasks <= 1) {
    for (int64_t t = 0; t < tasks; ++t) task(static_cast<size_t>(t));
  } else {
    pool->run(static_cast<size_t>(tasks), task);
  }
}

// Rows [r0, r1) of w as f32 (a view when stored as f32, else converted into `buf`).
const float* f32_rows(const Tensor& w, int64_t r0, int64_t r1, std::vector<float>& buf) {
  const int64_t in = w.dim(1);
  if (w.dtype() == DType::kF32) return w.data<float>() + r0 * in;
  buf.resize(static_cast<size_t>((r1 - r0) * in));
  const uint16_t* src = w.data<uint16_t>() + r0 * in;
  if (w.dtype() == DType::kBF16) {
    cpu::bf16_to_f32(src, buf.data(), (r1 - r0) * in);
  } else {
    cpu::f16_to_f32(src, buf.data(), (r1 - r0) * in);
  }
  return buf.data();
}

}  // namespace

FormattedWeight convert_weight(ThreadPool* pool, const Tensor& w, WeightFormat format) {
  BLIP2_CHECK(w.ndim() == 2 && w.is_contiguous(), "convert_weight wants a contiguous matrix, got ",
              w.describe());
  const DType dt = w.dtype();
  if (dt != DType::kF32 && dt != DType::kF16 && dt != DType::kBF16)
    fail(ErrorKind::kUnsupported, "cannot convert a weight of dtype ", dtype_name(dt), " to ",
         weight_format_name(format), "; only F32, F16 and BF16 weights convert");
  const int64_t out = w.dim(0), in = w.dim(1);
  if (format == WeightFormat::kQ4 && in % cpu::kQ4Block != 0) format = WeightFormat::kInt8;
  FormattedWeight f;
  f.format = format;
  switch (format) {
    case WeightFormat::kF32: {
      if (dt == DType::kF32) {
        f.weight = w;
        break;
      }
      f.weight = Tensor::empty(DType::kF32, {out, in});
      float* dst = f.weight.mutable_data<float>();
      for_row_chunks(pool, out, in, [&](int64_t r0, int64_t r1) {
        const uint16_t* src = w.data<uint16_t>() + r0 * in;
        if (dt == DType::kBF16) {
          cpu::bf16_to_f32(src, dst + r0 * in, (r1 - r0) * in);
        } else {
          cpu::f16_to_f32(src, dst + r0 * in, (r1 - r0) * in);
        }
      });
      break;
    }
    case WeightFormat::kBF16: {
      if (dt == DType::kBF16) {
        f.weight = w;
        break;
      }
      f.weight = Tensor::empty(DType::kBF16, {out, in});
      uint16_t* dst = f.weight.mutable_data<uint16_t>();
      for_row_chunks(pool, out, in, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf;
        cpu::f32_to_bf16(f32_rows(w, r0, r1, buf), dst + r0 * in, (r1 - r0) * in);
      });
      break;
    }
    case WeightFormat::kInt8: {
      f.weight = Tensor::empty(DType::kI8, {out, in});
      f.scale = Tensor::empty(DType::kF32, {out});
      int8_t* q = f.weight.mutable_data<int8_t>();
      float* s = f.scale.mutable_data<float>();
      for_row_chunks(pool, out, in, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf;
        cpu::quantize_int8_rows(f32_rows(w, r0, r1, buf), r1 - r0, in, q + r0 * in, s + r0);
      });
      break;
    }
    case WeightFormat::kQ4: {
      f.weight = Tensor::empty(DType::kU8, {out, in / 2});
      f.scale = Tensor::empty(DType::kF16, {out, in / cpu::kQ4Block});
      uint8_t* q = f.weight.mutable_data<uint8_t>();
      uint16_t* s = f.scale.mutable_data<uint16_t>();
      for_row_chunks(pool, out, in, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf;
        cpu::quantize_q4_rows(f32_rows(w, r0, r1, buf), r1 - r0, in, q + r0 * (in / 2),
                              s + r0 * (in / cpu::kQ4Block));
      });
      break;
    }
  }
  return f;
}

std::optional<WeightFormat> stored_weight_format(const WeightLoader& w, std::string_view name) {
  const std::string wkey = std::string(name) + ".weight",
                    skey = std::string(name) + ".weight_scale";
  const TensorInfo* info = w.info(wkey);
  if (info == nullptr) return std::nullopt;  // load_weight reports the missing tensor
  const TensorInfo* scale = w.info(skey);
  switch (info->dtype) {
    case DType::kF32:
    case DType::kF16:
      if (scale)
        fail(ErrorKind::kFormat, "tensor \"", w.key(skey), "\" in ", w.checkpoint().location(),
             " scales a float weight; only I8 and U8 (q4) weights have scales");
      return std::nullopt;
    case DType::kBF16:
      return WeightFormat::kBF16;
    case DType::kI8:
    case DType::kU8: {
      const bool int8 = info->dtype == DType::kI8;
      if (scale == nullptr || scale->dtype != (int8 ? DType::kF32 : DType::kF16))
        fail(ErrorKind::kFormat, "tensor \"", w.key(wkey), "\" in ", w.checkpoint().location(),
             " is ", dtype_name(info->dtype), " but \"", w.key(skey), "\" is ",
             scale ? std::string(dtype_name(scale->dtype)) : std::string("missing"), "; ",
             int8 ? "int8 weights need an F32 scale per row" : "q4 weights need F16 block scales",
             ". Re-create the folder with `blip2 quantize`");
      return int8 ? WeightFormat::kInt8 : WeightFormat::kQ4;
    }
    default:
      fail(ErrorKind::kUnsupported, "tensor \"", w.key(wkey), "\" in ", w.checkpoint().location(),
           " has dtype ", dtype_name(info->dtype), ", which is not a weight format");
  }
}

FormattedWeight load_weight(const WeightLoader& w, std::string_view name, int64_t out, int64_t in,
                            WeightFormat format) {
  const std::string n(name);
  const std::optional<WeightFormat> stored = stored_weight_format(w, name);
  FormattedWeight f;
  if (stored == WeightFormat::kInt8) {
    f.format = WeightFormat::kInt8;
    f.weight = w.get_stored(n + ".weight", {out, in});
    f.scale = w.get_stored(n + ".weight_scale", {out});
    return f;
  }
  if (stored == WeightFormat::kQ4) {
    if (in % cpu::kQ4Block != 0)
      fail(ErrorKind::kFormat, "tensor \"", w.key(n + ".weight"),
           "\" is stored as q4 but its rows have ", in,
           " weights, not a multiple of 32; re-create the folder with `blip2 quantize`");
    f.format = WeightFormat::kQ4;
    f.weight = w.get_stored(n + ".weight", {out, in / 2});
    f.scale = w.get_stored(n + ".weight_scale", {out, in / cpu::kQ4Block});
    return f;
  }
  // A float weight: as stored when that is the format asked for (a view of the mapping), else
  // converted. bf16 stored and f32 asked is widened (the reference computes in f32).
  const Tensor t = w.get_stored(n + ".weight", {out, in});
  if ((format == WeightFormat::kF32 && t.dtype() == DType::kF32) ||
      (format == WeightFormat::kBF16 && t.dtype() == DType::kBF16)) {
    f.format = format;
    f.weight = t;
    return f;
  }
  f = convert_weight(w.pool(), t, format);
  w.release(t);
  w.record_converted(n + ".weight", f.weight);
  w.record_converted(n + ".weight_scale", f.scale);
  return f;
}

}  // namespace blip2
