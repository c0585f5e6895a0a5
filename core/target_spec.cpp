#include "core/target_spec.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "core/json_fields.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

using json = nlohmann::json;

std::string_view to_string(Scheme s) {
  switch (s) {
    case Scheme::http: return "http";
    case Scheme::https: return "https";
    case Scheme::tcp: return "tcp";
  }
  return "http";
}

namespace {

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool valid_ipv6_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

bool valid_path_char(char c) {
  // RFC 3986 pchar, '/', '?' and '%' (percent-encoding is passed through).
  return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' && c != '\\' && c != '^' &&
         c != '`' && c != '{' && c != '|' && c != '}' && c != '#';
}

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  Url url;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Error{fmt::format("'{}' is not a URL (expected http://host:port/path or tcp://host:port)", text)};
  }
  const std::string_view scheme = text.substr(0, sep);
  if (scheme == "http") {
    url.scheme = Scheme::http;
    url.port = 80;
  } else if (scheme == "https") {
    url.scheme = Scheme::https;
    url.port = 443;
  } else if (scheme == "tcp") {
    url.scheme = Scheme::tcp;
  } else {
    return Error{fmt::format("unsupported scheme '{}' (use http, https or tcp)", scheme)};
  }
  std::string_view rest = text.substr(sep + 3);
  const auto path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) {
    return Error{"credentials in URLs are not supported; use a header instead"};
  }

  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"unterminated '[' in IPv6 host"};
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error{fmt::format("unexpected '{}' after IPv6 host", after)};
      port_text = after.substr(1);
      if (port_text.empty()) return Error{"empty port after ':'"};
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), valid_ipv6_char)) {
      return Error{fmt::format("'{}' is not an IPv6 address", host)};
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Error{"empty port after ':'"};
    }
    if (host.empty()) return Error{"missing host"};
    if (!std::all_of(host.begin(), host.end(), valid_host_char)) {
      return Error{fmt::format("'{}' is not a valid host name", host)};
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return Error{fmt::format("'{}' is not a valid port (1-65535)", port_text)};
    }
    url.port = static_cast<std::uint16_t>(value);
  } else if (url.scheme == Scheme::tcp) {
    return Error{"tcp URLs need a port (tcp://host:port)"};
  }
  url.host = std::string(host);

  if (url.scheme == Scheme::tcp) {
    if (!path.empty() && path != "/") return Error{"tcp URLs take no path"};
    return url;
  }
  if (!std::all_of(path.begin(), path.end(), valid_path_char)) {
    return Error{fmt::format("path '{}' has characters that must be percent-encoded", path)};
  }
  if (path.empty()) {
    url.target = "/";
  } else if (path.front() == '?') {
    url.target = "/" + std::string(path);
  } else {
    url.target = std::string(path);
  }
  return url;
}

std::string Url::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  const std::string h = v6 ? "[" + host + "]" : host;
  return fmt::format("{}://{}:{}{}", heck::to_string(scheme), h, port, target);
}

bool TargetSpec::status_expected(int code) const {
  return std::any_of(expect_status.begin(), expect_status.end(),
                     [code](const StatusRange& r) { return code >= r.lo && code <= r.hi; });
}

bool valid_target_id(std::string_view id) {
  if (id.empty() || id.size() > TargetSpec::kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

namespace {

using json_fields::type_name;

Result<std::int64_t> get_int(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
  return json_fields::read_int(v, field, lo, hi);
}

Result<std::string> get_string(const json& v, const std::string& field) {
  if (!v.is_string()) return Error{fmt::format("{}: must be a string, got {}", field, type_name(v))};
  return v.get<std::string>();
}

Result<StatusRange> parse_status_range(const json& v, const std::string& field) {
  auto in_range = [&](int lo, int hi) -> Result<StatusRange> {
    if (lo < 100 || hi > 599 || lo > hi) {
      return Error{fmt::format("{}: {}-{} is not a range of HTTP status codes (100-599)", field, lo, hi)};
    }
    return StatusRange{lo, hi};
  };
  if (v.is_number_integer()) {
    const auto code = v.get<std::int64_t>();
    if (code < 100 || code > 599) return Error{fmt::format("{}: {} is not an HTTP status code", field, code)};
    return in_range(static_cast<int>(code), static_cast<int>(code));
  }
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    int lo = 0, hi = 0;
    const char* b = s.data();
    const char* e = s.data() + s.size();
    auto r1 = std::from_chars(b, e, lo);
    if (r1.ec == std::errc{} && r1.ptr == e) return in_range(lo, lo);
    if (r1.ec == std::errc{} && r1.ptr < e && *r1.ptr == '-') {
      auto r2 = std::from_chars(r1.ptr + 1, e, hi);
      if (r2.ec == std::errc{} && r2.ptr == e) return in_range(lo, hi);
    }
    return Error{fmt::format("{}: '{}' is not a status code or a range like \"200-399\"", field, s)};
  }
  return Error{fmt::format("{}: must be a status code, a range string or an array of them, got {}", field,
                           type_name(v))};
}

constexpr std::string_view kHttpMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};

}  // namespace

Result<TargetSpec> TargetSpec::from_json(const json& j, std::string_view where) {
  if (!j.is_object()) return Error{fmt::format("{}: must be an object, got {}", where, type_name(j))};
  TargetSpec spec;
  auto field = [&](std::string_view name) { return fmt::format("{}.{}", where, name); };

  static const std::set<std::string, std::less<>> known = {
      "id", "url", "interval_ms", "timeout_ms", "rise", "fall", "expect_status", "expect_body",
      "method", "headers", "tls_verify", "tls_expiry_min_days", "checkers", "quorum"};
  for (const auto& [key, _] : j.items()) {
    if (!known.contains(key)) {
      return Error{fmt::format("{}: unknown key (known: id, url, interval_ms, timeout_ms, rise, fall, "
                               "expect_status, expect_body, method, headers, tls_verify, tls_expiry_min_days, checkers, quorum)",
                               field(key))};
    }
  }

  if (!j.contains("id")) return Error{fmt::format("{}: missing (every target needs an id)", field("id"))};
  {
    auto id = get_string(j.at("id"), field("id"));
    if (!id) return Error{id.error()};
    if (!valid_target_id(*id)) {
      return Error{fmt::format("{}: '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -", field("id"), *id,
                               kMaxIdLength)};
    }
    spec.id = detached_name(*id);
  }
  if (!j.contains("url")) return Error{fmt::format("{}: missing", field("url"))};
  {
    auto text = get_string(j.at("url"), field("url"));
    if (!text) return Error{text.error()};
    auto url = Url::parse(*text);
    if (!url) return Error{fmt::format("{}: {}", field("url"), url.error())};
    spec.url = std::move(*url);
  }
  constexpr std::int64_t kDayMs = 86'400'000;
  if (j.contains("interval_ms")) {
    auto v = get_int(j.at("interval_ms"), field("interval_ms"), 1, kDayMs);
    if (!v) return Error{v.error()};
    spec.interval = Duration::milliseconds(*v);
  }
  if (j.contains("timeout_ms")) {
    auto v = get_int(j.at("timeout_ms"), field("timeout_ms"), 1, kDayMs);
    if (!v) return Error{v.error()};
    spec.timeout = Duration::milliseconds(*v);
  }
  if (spec.timeout >= spec.interval) {
    return Error{fmt::format("{}: {} must be below interval_ms ({})", field("timeout_ms"), spec.timeout.ms(),
                             spec.interval.ms())};
  }
  if (j.contains("rise")) {
    auto v = get_int(j.at("rise"), field("rise"), 1, 100);
    if (!v) return Error{v.error()};
    spec.rise = static_cast<std::uint8_t>(*v);
  }
  if (j.contains("fall")) {
    auto v = get_int(j.at("fall"), field("fall"), 1, 100);
    if (!v) return Error{v.error()};
    spec.fall = static_cast<std::uint8_t>(*v);
  }
  if (j.contains("checkers")) {
    auto v = get_int(j.at("checkers"), field("checkers"), 1, kMaxCheckers);
    if (!v) return Error{v.error()};
    spec.checkers = static_cast<std::uint8_t>(*v);
  }
  if (j.contains("quorum")) {
    auto v = get_int(j.at("quorum"), field("quorum"), 1, kMaxCheckers);
    if (!v) return Error{v.error()};
    spec.quorum = static_cast<std::uint8_t>(*v);
  }
  if (spec.quorum > spec.checkers) {
    return Error{fmt::format("{}: {} must not exceed checkers ({})", field("quorum"), int{spec.quorum}, int{spec.checkers})};
  }
  const bool is_http = spec.url.scheme != Scheme::tcp;
  auto http_only = [&](std::string_view name) -> Result<bool> {
    if (!is_http) return Error{fmt::format("{}: only applies to http and https targets", field(name))};
    return true;
  };
  if (j.contains("expect_status")) {
    if (auto ok = http_only("expect_status"); !ok) return Error{ok.error()};
    const json& v = j.at("expect_status");
    spec.expect_status.clear();
    if (v.is_array()) {
      if (v.empty()) return Error{fmt::format("{}: must not be empty", field("expect_status"))};
      for (std::size_t i = 0; i < v.size(); ++i) {
        auto r = parse_status_range(v[i], fmt::format("{}[{}]", field("expect_status"), i));
        if (!r) return Error{r.error()};
        spec.expect_status.push_back(*r);
      }
    } else {
      auto r = parse_status_range(v, field("expect_status"));
      if (!r) return Error{r.error()};
      spec.expect_status.push_back(*r);
    }
  }
  if (j.contains("expect_body")) {
    if (auto ok = http_only("expect_body"); !ok) return Error{ok.error()};
    auto v = get_string(j.at("expect_body"), field("expect_body"));
    if (!v) return Error{v.error()};
    if (v->empty()) return Error{fmt::format("{}: must not be empty", field("expect_body"))};
    spec.http.edit().expect_body = std::move(*v);
  }
  if (j.contains("method")) {
    if (auto ok = http_only("method"); !ok) return Error{ok.error()};
    auto v = get_string(j.at("method"), field("method"));
    if (!v) return Error{v.error()};
    if (std::find(std::begin(kHttpMethods), std::end(kHttpMethods), *v) == std::end(kHttpMethods)) {
      return Error{fmt::format("{}: '{}' is not one of GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH",
                               field("method"), *v)};
    }
    spec.http.edit().method = std::move(*v);
  }
  if (j.contains("headers")) {
    if (auto ok = http_only("headers"); !ok) return Error{ok.error()};
    const json& h = j.at("headers");
    if (!h.is_object()) {
      return Error{fmt::format("{}: must be an object of strings, got {}", field("headers"), type_name(h))};
    }
    for (const auto& [name, value] : h.items()) {
      const auto f = fmt::format("{}.{}", field("headers"), name);
      auto v = get_string(value, f);
      if (!v) return Error{v.error()};
      const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != ':' && c != '(' && c != ')' && c != ',' && c != ';' && c != '"';
      });
      if (!name_ok) return Error{fmt::format("{}: not a valid header name", f)};
      if (v->find_first_of("\r\n") != std::string::npos) {
        return Error{fmt::format("{}: header values must not contain line breaks", f)};
      }
      spec.http.edit().headers.emplace(name, std::move(*v));
    }
  }
  if (j.contains("tls_verify")) {
    const json& v = j.at("tls_verify");
    if (!v.is_boolean()) {
      return Error{fmt::format("{}: must be a boolean, got {}", field("tls_verify"), type_name(v))};
    }
    if (spec.url.scheme != Scheme::https) {
      return Error{fmt::format("{}: only applies to https targets", field("tls_verify"))};
    }
    spec.http.edit().tls_verify = v.get<bool>();
  }
  if (j.contains("tls_expiry_min_days")) {
    auto v = get_int(j.at("tls_expiry_min_days"), field("tls_expiry_min_days"), 0, kMaxTlsExpiryMinDays);
    if (!v) return Error{v.error()};
    if (spec.url.scheme != Scheme::https) {
      return Error{fmt::format("{}: only applies to https targets", field("tls_expiry_min_days"))};
    }
    spec.http.edit().tls_expiry_min_days = static_cast<int>(*v);
  }
  spec.http.shrink();  // "method": "GET" and the like need no box
  return spec;
}

json TargetSpec::to_json() const {
  json j = {{"id", id.str()},
            {"url", url.to_string()},
            {"interval_ms", interval.ms()},
            {"timeout_ms", timeout.ms()},
            {"rise", int{rise}},
            {"fall", int{fall}}};
  if (url.scheme != Scheme::tcp) {
    json ranges = json::array();
    for (const auto& r : expect_status) {
      ranges.push_back(r.lo == r.hi ? fmt::format("{}", r.lo) : fmt::format("{}-{}", r.lo, r.hi));
    }
    j["expect_status"] = std::move(ranges);
    j["method"] = http->method;
    if (http->expect_body) j["expect_body"] = *http->expect_body;
    if (!http->headers.empty()) j["headers"] = http->headers;
  }
  if (url.scheme == Scheme::https) j["tls_verify"] = http->tls_verify;
  if (http->tls_expiry_min_days != 0) j["tls_expiry_min_days"] = http->tls_expiry_min_days;
  if (checkers != 1) j["checkers"] = int{checkers};
  if (quorum != 1) j["quorum"] = int{quorum};
  return j;
}

void TargetSpec::write_msgpack(wire::MsgpackWriter& w) const {
  // The keys of to_json() that this spec has, in a JSON object's (sorted)
  // order. TargetSpec.WriteMsgpack* (tests) pin the bytes against
  // to_msgpack(to_json()).
  const bool has_http = url.scheme != Scheme::tcp;
  const bool has_body = has_http && http->expect_body.has_value();
  const bool has_headers = has_http && !http->headers.empty();
  const bool has_tls = url.scheme == Scheme::https;
  w.map(6 + (checkers != 1) + has_body + 2 * has_http + has_headers + (quorum != 1) +
        (http->tls_expiry_min_days != 0) + has_tls);
  if (checkers != 1) w.str("checkers"), w.sint(checkers);
  if (has_body) w.str("expect_body"), w.str(*http->expect_body);
  if (has_http) {
    w.str("expect_status");
    w.array(expect_status.size());
    for (const StatusRange& r : expect_status) {
      char buf[32];  // two ints of at most 11 characters and a '-'
      char* end = std::to_chars(buf, buf + 12, r.lo).ptr;
      if (r.lo != r.hi) {
        *end++ = '-';
        end = std::to_chars(end, buf + sizeof buf, r.hi).ptr;
      }
      w.str(std::string_view(buf, static_cast<std::size_t>(end - buf)));
    }
  }
  w.str("fall"), w.sint(fall);
  if (has_headers) {
    w.str("headers");
    w.map(http->headers.size());
    for (const auto& [name, value] : http->headers) w.str(name), w.str(value);
  }
  w.str("id"), w.str(id);
  w.str("interval_ms"), w.sint(interval.ms());
  if (has_http) w.str("method"), w.str(http->method);
  if (quorum != 1) w.str("quorum"), w.sint(quorum);
  w.str("rise"), w.sint(rise);
  w.str("timeout_ms"), w.sint(timeout.ms());
  if (http->tls_expiry_min_days != 0) w.str("tls_expiry_min_days"), w.sint(http->tls_expiry_min_days);
  if (has_tls) w.str("tls_verify"), w.boolean(http->tls_verify);
  w.str("url"), w.str(url.to_string());
}

Result<std::vector<TargetSpec>> parse_target_list(const json& j, std::string_view where) {
  if (!j.is_array()) return Error{fmt::format("{}: must be an array, got {}", where, type_name(j))};
  std::vector<TargetSpec> out;
  std::set<std::string, std::less<>> seen;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto spec = TargetSpec::from_json(j[i], fmt::format("{}[{}]", where, i));
    if (!spec) return Error{spec.error()};
    if (!seen.insert(spec->id.str()).second) {
      return Error{fmt::format("{}[{}].id: duplicate id '{}'", where, i, spec->id.str())};
    }
    out.push_back(std::move(*spec));
  }
  return out;
}

std::uint64_t spec_fingerprint(const TargetSpec& spec) {
  Bytes bytes;
  wire::MsgpackWriter w(bytes);
  spec.write_msgpack(w);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace heck
