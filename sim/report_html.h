// The visual report of one run (`heck sim SCENARIO --seed N --report FILE`):
// one self-contained HTML file (inline CSS, SVG and a little script; no
// network access, nothing fetched) drawn from a ReportData
// (sim/report_recorder.h):
//
// - the scenario, seed, result, every expectation's verdict and evidence,
//   and the replay command;
// - on one time axis: the network faults and phases, one lane per member
//   (how the others saw it, with its process state and crash markers), one
//   row per selected target (truth, and how many live agents agree with
//   it), messages and bytes per second;
// - delay plots: per crash, the time to the first suspicion and to dead
//   everywhere; the distributions of flip-to-agreement delays and takeover
//   gaps.
//
// Every text that comes from the scenario or the run is escaped
// (html_escape). The page reads without its script; the script adds a time
// cursor across the charts with the traffic at that time, and marks
// <body data-ready="1"> when it ran.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sim/report_recorder.h"

namespace heck::sim {

// `s` with & < > " ' replaced by entities: safe as element text and as a
// quoted attribute value.
std::string html_escape(std::string_view s);

std::string render_report_html(const ReportData& data);

// Writes `html` to `file` and closes it. nullopt on success, else what went
// wrong ("writing FILE failed: …").
std::optional<std::string> write_report_file(std::FILE* file, const std::string& path, const std::string& html);

}  // namespace heck::sim
