// Runs the built `blip2` CLI and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace blip2::test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline CliResult run_cli(const std::vector<std::string>& args) {
  TempDir dir;
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) about " " + string.
  std::string cmd = shell_quote(BLIP2_CLI_PATH);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  cmd += " >";
  cmd += shell_quote(dir.file("out"));
  cmd += " 2>";
  cmd += shell_quote(dir.file("err"));
  cmd += " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text_file(dir.file("out"));
  r.err = read_text_file(dir.file("err"));
  return r;
}

// Non-JSON lines (e.g. progress) are skipped.
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(pos, end - pos);
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
    pos = end + 1;
  }
  return lines;
}

}  // namespace blip2::test
