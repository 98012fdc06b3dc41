// blip2: BLIP-2 captioning and VQA from the command line. See `blip2 --help`.
#include <cstdio>
#include <exception>
#include <iostream>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"blip2: BLIP-2 image captioning and visual question answering on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "blip2cpp 0.1.0");
  blip2::cli::Action action;
  blip2::cli::register_generate_commands(app, action);
  blip2::cli::register_features_command(app, action);
  blip2::cli::register_inspect_command(app, action);
  blip2::cli::register_tokenize_commands(app, action);
  blip2::cli::register_eval_command(app, action);
  blip2::cli::register_bench_command(app, action);
  blip2::cli::register_make_random_command(app, action);
  blip2::cli::register_quantize_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 0;
  } catch (const blip2::Error& e) {
    std::cerr << "blip2: error: " << e.what() << "\n";
    return e.kind() == blip2::ErrorKind::kInternal ? 70 : 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "blip2: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "blip2: internal error: " << e.what() << "\n";
    return 70;
  }
}
