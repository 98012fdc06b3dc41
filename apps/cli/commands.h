// The blip2 command-line tool: one file per subcommand, each registering itself on the CLI11 app.
// Subcommands turn flags into library requests and print results; they hold no model logic.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace blip2::cli {

// A registered subcommand's action; returns the process exit code. Errors are thrown as
// blip2::Error and turned into a one-line message and exit code by main().
using Action = std::function<int()>;

// Each register_* adds one subcommand to `app` and stores its action in `action` when chosen.
void register_inspect_command(CLI::App& app, Action& action);
void register_generate_commands(CLI::App& app, Action& action);  // caption, ask
void register_features_command(CLI::App& app, Action& action);
void register_tokenize_commands(CLI::App& app, Action& action);  // tokenize, detokenize
void register_eval_command(CLI::App& app, Action& action);
void register_bench_command(CLI::App& app, Action& action);
void register_make_random_command(CLI::App& app, Action& action);
void register_quantize_command(CLI::App& app, Action& action);

}  // namespace blip2::cli
