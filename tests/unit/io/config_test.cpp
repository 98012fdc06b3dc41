#include <gtest/gtest.h>

#include "common/test_util.h"
#include "io/config.h"

namespace blip2 {
namespace {

using nlohmann::json;

// Our parse of the sparse config.json must agree with transformers' fully defaulted config.
void expect_matches_full(const Blip2Config& c, const json& full) {
  const json& v = full["vision_config"];
  EXPECT_EQ(c.vision.hidden_size, v["hidden_size"]);
  EXPECT_EQ(c.vision.intermediate_size, v["intermediate_size"]);
  EXPECT_EQ(c.vision.num_hidden_layers, v["num_hidden_layers"]);
  EXPECT_EQ(c.vision.num_attention_heads, v["num_attention_heads"]);
  EXPECT_EQ(c.vision.image_size, v["image_size"]);
  EXPECT_EQ(c.vision.patch_size, v["patch_size"]);
  EXPECT_DOUBLE_EQ(c.vision.layer_norm_eps, v["layer_norm_eps"].get<double>());
  EXPECT_EQ(c.vision.qkv_bias, v["qkv_bias"]);
  const json& q = full["qformer_config"];
  EXPECT_EQ(c.qformer.hidden_size, q["hidden_size"]);
  EXPECT_EQ(c.qformer.intermediate_size, q["intermediate_size"]);
  EXPECT_EQ(c.qformer.num_hidden_layers, q["num_hidden_layers"]);
  EXPECT_EQ(c.qformer.num_attention_heads, q["num_attention_heads"]);
  EXPECT_EQ(c.qformer.cross_attention_frequency, q["cross_attention_frequency"]);
  EXPECT_EQ(c.qformer.encoder_hidden_size, q["encoder_hidden_size"]);
  EXPECT_DOUBLE_EQ(c.qformer.layer_norm_eps, q["layer_norm_eps"].get<double>());
  EXPECT_EQ(c.num_query_tokens, full["num_query_tokens"]);
  const json& t = full["text_config"];
  if (c.lm_type == LanguageModelType::kOpt) {
    EXPECT_EQ(t["model_type"], "opt");
    EXPECT_EQ(c.opt.hidden_size, t["hidden_size"]);
    EXPECT_EQ(c.opt.ffn_dim, t["ffn_dim"]);
    EXPECT_EQ(c.opt.num_hidden_layers, t["num_hidden_layers"]);
    EXPECT_EQ(c.opt.num_attention_heads, t["num_attention_heads"]);
    EXPECT_EQ(c.opt.vocab_size, t["vocab_size"]);
    EXPECT_EQ(c.opt.max_position_embeddings, t["max_position_embeddings"]);
    EXPECT_EQ(c.opt.do_layer_norm_before, t["do_layer_norm_before"]);
    EXPECT_EQ(c.opt.word_embed_proj_dim, t["word_embed_proj_dim"]);
    EXPECT_EQ(c.opt.activation_function, t["activation_function"]);
    EXPECT_EQ(c.opt.enable_bias, t["enable_bias"]);
    EXPECT_EQ(c.opt.tie_word_embeddings, t["tie_word_embeddings"]);
  } else {
    EXPECT_EQ(t["model_type"], "t5");
    EXPECT_EQ(c.t5.d_model, t["d_model"]);
    EXPECT_EQ(c.t5.d_kv, t["d_kv"]);
    EXPECT_EQ(c.t5.d_ff, t["d_ff"]);
    EXPECT_EQ(c.t5.num_layers, t["num_layers"]);
    EXPECT_EQ(c.t5.num_decoder_layers, t["num_decoder_layers"]);
    EXPECT_EQ(c.t5.num_heads, t["num_heads"]);
    EXPECT_EQ(c.t5.relative_attention_num_buckets, t["relative_attention_num_buckets"]);
    EXPECT_EQ(c.t5.relative_attention_max_distance, t["relative_attention_max_distance"]);
    EXPECT_EQ(c.t5.dense_act_fn, t["dense_act_fn"]);
    EXPECT_EQ(c.t5.is_gated_act, t["is_gated_act"]);
    EXPECT_EQ(c.t5.tie_word_embeddings, t["tie_word_embeddings"]);
    EXPECT_DOUBLE_EQ(c.t5.layer_norm_epsilon, t["layer_norm_epsilon"].get<double>());
  }
  ASSERT_FALSE(c.special.eos_token_id.empty());
  EXPECT_EQ(c.special.eos_token_id[0], t["eos_token_id"]);
  EXPECT_EQ(c.special.pad_token_id.value(), t["pad_token_id"]);
  if (!t["bos_token_id"].is_null()) {
    EXPECT_EQ(c.special.bos_token_id.value(), t["bos_token_id"]);
  }
  if (!t["decoder_start_token_id"].is_null()) {
    EXPECT_EQ(c.special.decoder_start_token_id.value(), t["decoder_start_token_id"]);
  }
}

TEST(Config, FixturesMatchTransformersDefaults) {
  for (const char* name : {"opt-tiny", "t5-tiny"}) {
    SCOPED_TRACE(name);
    const Blip2Config c = load_blip2_config(test::data_path(name));
    expect_matches_full(
        c, test::load_json(test::data_path(std::string(name) + "/expected/config_full.json")));
  }
}

TEST(Config, RealConfigsMatchTransformersDefaults) {
  for (const char* name : {"blip2-opt-2.7b", "blip2-flan-t5-xl"}) {
    SCOPED_TRACE(name);
    const std::string dir = test::data_path(std::string("real-configs/") + name);
    const Blip2Config c = load_blip2_config(dir);
    expect_matches_full(c, test::load_json(dir + "/config_full.json"));
  }
  const Blip2Config opt = load_blip2_config(test::data_path("real-configs/blip2-opt-2.7b"));
  EXPECT_EQ(opt.vision.num_hidden_layers, 39);
  EXPECT_EQ(opt.opt.hidden_size, 2560);
  EXPECT_EQ(opt.special.eos_token_id, std::vector<int64_t>{50118});
  const Blip2Config t5 = load_blip2_config(test::data_path("real-configs/blip2-flan-t5-xl"));
  EXPECT_EQ(t5.t5.dense_act_fn, "gelu") << "explicit dense_act_fn wins over gated-gelu";
  EXPECT_TRUE(t5.t5.is_gated_act);
}

TEST(Config, ShapesDemoFullConfig) {
  const Blip2Config c = load_blip2_config(test::repo_path("models/shapes-demo"));
  EXPECT_EQ(c.vision.patch_size, 16);
  EXPECT_EQ(c.qformer.hidden_size, 160);
  EXPECT_EQ(c.opt.hidden_size, 192);
  EXPECT_EQ(c.opt.max_position_embeddings, 256);
  const GenerationDefaults g = load_generation_defaults(test::repo_path("models/shapes-demo"));
  EXPECT_EQ(g.max_new_tokens.value(), 20);
  EXPECT_EQ(g.num_beams.value(), 1);
  EXPECT_FALSE(g.do_sample.value());
}

TEST(Config, GatedGeluWithoutExplicitActIsGeluNew) {
  json j = {{"text_config", {{"model_type", "t5"}, {"feed_forward_proj", "gated-gelu"}}}};
  const Blip2Config c = blip2_config_from_json(j, "cfg");
  EXPECT_EQ(c.t5.dense_act_fn, "gelu_new");
  EXPECT_TRUE(c.t5.is_gated_act);
  EXPECT_EQ(c.t5.num_decoder_layers, c.t5.num_layers);
}

TEST(Config, ImageTokenIndexAndEosList) {
  json j = {{"image_token_index", 50265},
            {"text_config", {{"model_type", "opt"}, {"eos_token_id", {50118, 2}}}}};
  const Blip2Config c = blip2_config_from_json(j, "cfg");
  EXPECT_EQ(c.image_token_index.value(), 50265);
  EXPECT_EQ(c.special.eos_token_id, (std::vector<int64_t>{50118, 2}));
}

TEST(Config, BadValuesAreRejectedWithFieldNames) {
  auto msg = [](const json& j) {
    try {
      blip2_config_from_json(j, "cfg.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg({{"vision_config", {{"hidden_size", "big"}}}}).find("vision_config.hidden_size"),
            std::string::npos);
  EXPECT_NE(msg({{"vision_config", {{"hidden_size", 100}, {"num_attention_heads", 3}}}})
                .find("divisible"),
            std::string::npos);
  EXPECT_NE(msg({{"vision_config", {{"image_size", 225}}}}).find("patch_size"), std::string::npos);
  EXPECT_NE(msg({{"text_config", {{"model_type", "llama"}}}}).find("llama"), std::string::npos);
  EXPECT_NE(msg({{"model_type", "clip"}}).find("not a BLIP-2"), std::string::npos);
  EXPECT_NE(msg({{"num_query_tokens", 0}}).find("num_query_tokens"), std::string::npos);
  EXPECT_NE(msg({{"qformer_config", {{"num_hidden_layers", -1}}}}).find("num_hidden_layers"),
            std::string::npos);
  EXPECT_NE(msg({{"text_config", {{"model_type", "opt"}, {"eos_token_id", 999999}}}})
                .find("outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(msg(json::array()).find("not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace blip2
