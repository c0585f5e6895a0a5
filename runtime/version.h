// The version the agent reports (API, metrics, --version). Keep in step with
// project(heck VERSION ...) in the top-level CMakeLists.txt.
#pragma once

#include <string_view>

namespace heck::runtime {

inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace heck::runtime
