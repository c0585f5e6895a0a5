// Reading RFC 3339 UTC timestamps as the API writes them (format_rfc3339 in
// runtime/clock.h): "2026-11-21T12:00:00Z" or "2026-11-21T12:00:00.123Z".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace heck::runtime {

// Milliseconds since the Unix epoch of "2026-11-21T12:00:00.123Z" (or without
// the milliseconds); nullopt if it is not that shape.
std::optional<std::int64_t> parse_rfc3339_ms(const std::string& s);

}  // namespace heck::runtime
