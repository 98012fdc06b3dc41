// Progress of long runs on stderr: a redrawn bar on a terminal, a plain line every few seconds
// otherwise (logs, CI). Silent for runs of a single item.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace blip2::cli {

class Progress {
 public:
  Progress(std::string what, int64_t total);
  ~Progress();
  void advance(int64_t n = 1);
  void finish();

 private:
  void draw(bool force);
  std::string what_;
  int64_t total_, done_ = 0;
  bool tty_, finished_ = false, enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace blip2::cli
