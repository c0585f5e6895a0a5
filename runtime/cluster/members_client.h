// The client side of `heck members`: one GET /v1/members from an agent's API
// (runtime/api_server.h, over runtime/api_client.h), its answer checked, and
// a table for people.
//
//   NAME     ADDRESS          STATE    INCARNATION  SINCE
//   n1       127.0.0.1:7946   alive    0            2026-11-21T12:00:00.000Z  (this agent)
//
// Errors say what went wrong and where: "cannot reach the agent API at
// 127.0.0.1:7700: Connection refused (is `heck agent` running? --api picks
// another address)", "... answered HTTP 404", "... not a member list: ...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "runtime/agent_config.h"

namespace heck::runtime::cluster {

struct MemberRow {
  std::string name;
  std::string address;
  std::string state;
  std::uint64_t incarnation = 0;
  std::string state_since;
  bool self = false;
};

struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};

// GET `target` from `api` with one deadline for connect, write and read. The
// body is capped at `max_body_bytes`.
Result<HttpAnswer> http_get(const HostPort& api, std::string_view target, Duration timeout,
                            std::size_t max_body_bytes = 16 * 1024 * 1024);

// Parses a /v1/members body strictly enough to print it.
Result<std::vector<MemberRow>> parse_members(std::string_view body);

// The table above; names and addresses are sanitised for the terminal.
std::string format_members_table(const std::vector<MemberRow>& rows);

// GET /v1/members and parse it.
Result<std::vector<MemberRow>> fetch_members(const HostPort& api, Duration timeout, std::string* raw_body = nullptr);

}  // namespace heck::runtime::cluster
