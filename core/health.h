#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace heck {

// A target's health as this node believes it.
enum class HealthStatus : std::uint8_t { unknown, healthy, unhealthy };

std::string_view to_string(HealthStatus s);
std::optional<HealthStatus> parse_health_status(std::string_view s);

}  // namespace heck
