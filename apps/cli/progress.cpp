#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace blip2::cli {

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) == 1),
      enabled_(total > 1) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  finish();
}

void Progress::advance(int64_t n) {
  done_ += n;
  draw(false);
}

void Progress::finish() {
  if (finished_ || !enabled_) return;
  finished_ = true;
  if (tty_ || done_ != total_) draw(true);  // the last advance() already printed the final line
  if (tty_) std::fputc('\n', stderr);
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (!force && since_last < (tty_ ? 0.1 : 5.0) && done_ != total_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done_) / rate : 0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld  %.2f/s  eta %.0fs ", what_.c_str(), bar.c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), rate, eta);
  } else {
    std::fprintf(stderr, "%s: %lld/%lld (%.2f/s, eta %.0fs)\n", what_.c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), rate, eta);
  }
  std::fflush(stderr);
}

}  // namespace blip2::cli
