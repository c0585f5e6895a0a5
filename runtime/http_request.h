// The HTTP/1.1 request a check sends, serialised by hand (no per-field
// allocations): the request line, Host (with the port when it is not the
// scheme's default; IPv6 literals in brackets), User-Agent, the spec's own
// headers, and `Connection: close`. The spec's headers replace our Host and
// User-Agent when they name them (case-insensitively); a spec header named
// Connection, Content-Length or Transfer-Encoding is dropped (every check is one request on its
// own connection, without a body).
//
// The spec is validated on the way, since a TargetSpec built in code skips
// the JSON parser's checks: a method that is not a token, a target or header
// with spaces or line breaks are refused with a message that names them.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "core/target_spec.h"

namespace heck::runtime {

// Writes the request for `spec` into `out` (cleared first). Returns false and
// sets `error` when the spec cannot be sent as is.
bool write_http_request(const TargetSpec& spec, std::string_view user_agent, std::string& out,
                        std::string& error);

// True when the spec's URL uses the scheme's default port (80 or 443).
bool default_port(const Url& url);

}  // namespace heck::runtime
