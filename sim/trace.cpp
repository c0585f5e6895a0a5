#include "sim/trace.h"

namespace heck::sim {

bool TraceWriter::flush() {
  if (!streams() || buf_.size() == 0) return ok_;
  spill();
  if (out_ != nullptr && std::fflush(out_) != 0) ok_ = false;
  return ok_;
}

void TraceWriter::spill() {
  if (sink_ != nullptr) {
    sink_->write({buf_.data(), buf_.size()});
    buf_.clear();
    return;
  }
  if (out_ != nullptr) {
    if (std::fwrite(buf_.data(), 1, buf_.size(), out_) != buf_.size()) ok_ = false;
    buf_.clear();
    return;
  }
  truncated_ = true;  // memory mode over its limit: keep what we have, stop
}

}  // namespace heck::sim
