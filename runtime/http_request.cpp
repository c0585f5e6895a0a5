#include "runtime/http_request.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace heck::runtime {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// RFC 9110 token characters.
bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), token_char); }

// Field values: visible characters, space and tab; no CR, LF or other controls.
bool field_value_ok(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

bool target_ok(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

}  // namespace

bool default_port(const Url& url) {
  return (url.scheme == Scheme::http && url.port == 80) || (url.scheme == Scheme::https && url.port == 443);
}

bool write_http_request(const TargetSpec& spec, std::string_view user_agent, std::string& out,
                        std::string& error) {
  out.clear();
  if (!is_token(spec.http->method)) {
    error = fmt::format("method '{}' is not an HTTP token", spec.http->method);
    return false;
  }
  if (!target_ok(spec.url.target)) {
    error = fmt::format("request target '{}' is empty or has spaces or control characters", spec.url.target);
    return false;
  }
  if (!field_value_ok(spec.url.host) || spec.url.host.empty()) {
    error = "host is empty or has control characters";
    return false;
  }
  if (!field_value_ok(user_agent)) {
    error = "the User-Agent option has control characters";
    return false;
  }
  bool own_host = false;
  bool own_agent = false;
  for (const auto& [name, value] : spec.http->headers) {
    if (!is_token(name)) {
      error = fmt::format("header name '{}' is not an HTTP token", name);
      return false;
    }
    if (!field_value_ok(value)) {
      error = fmt::format("header '{}' has control characters in its value", name);
      return false;
    }
    own_host = own_host || iequals(name, "host");
    own_agent = own_agent || iequals(name, "user-agent");
  }

  out.append(spec.http->method).append(" ").append(spec.url.target).append(" HTTP/1.1\r\n");
  if (!own_host) {
    out.append("Host: ");
    const bool v6 = spec.url.host.find(':') != std::string::npos;
    if (v6) out.push_back('[');
    out.append(spec.url.host);
    if (v6) out.push_back(']');
    if (!default_port(spec.url)) {
      char port[8];
      const auto r = std::to_chars(port, port + sizeof port, spec.url.port);
      out.push_back(':');
      out.append(port, r.ptr);
    }
    out.append("\r\n");
  }
  if (!own_agent && !user_agent.empty()) out.append("User-Agent: ").append(user_agent).append("\r\n");
  for (const auto& [name, value] : spec.http->headers) {
    if (iequals(name, "connection") || iequals(name, "content-length") || iequals(name, "transfer-encoding")) {
      continue;
    }
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("Connection: close\r\n\r\n");
  return true;
}

}  // namespace heck::runtime
