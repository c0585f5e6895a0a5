#include "core/health.h"

namespace heck {

std::string_view to_string(HealthStatus s) {
  switch (s) {
    case HealthStatus::unknown: return "unknown";
    case HealthStatus::healthy: return "healthy";
    case HealthStatus::unhealthy: return "unhealthy";
  }
  return "unknown";
}

std::optional<HealthStatus> parse_health_status(std::string_view s) {
  if (s == "unknown") return HealthStatus::unknown;
  if (s == "healthy") return HealthStatus::healthy;
  if (s == "unhealthy") return HealthStatus::unhealthy;
  return std::nullopt;
}

}  // namespace heck
