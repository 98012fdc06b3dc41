// blip2cpp: BLIP-2 image captioning and visual question answering on the CPU.
//
//   #include <blip2/blip2.h>
//
//   std::shared_ptr<const blip2::Engine> engine = blip2::Engine::load("models/shapes-demo");
//   blip2::Session session(engine);  // one per thread; the engine is shared
//   blip2::RgbImage image = blip2::decode_image_file("models/shapes-demo/examples/one_shape.png");
//   blip2::CaptionResult caption = session.caption(image, "", engine->default_options(blip2::Task::kCaption));
//   std::cout << caption.text << "\n";  // "a small red square"
//   blip2::CaptionResult answer = session.ask(image, "what color is the square?",
//                                             engine->default_options(blip2::Task::kVqa));
//
// An Engine holds the weights, tokenizer, configs and thread pool: immutable after load and safe
// to share between threads. A Session holds one caller's caches and scratch; use one per thread.
// Every failure caused by input is a blip2::Error (see core/error.h) with a message that says what,
// where and what to do.
#pragma once

#include "blip2/engine.h"   // IWYU pragma: export
#include "blip2/session.h"  // IWYU pragma: export
