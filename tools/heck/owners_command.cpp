// `heck owners --members a,b,c [--targets FILE | TARGET...] [--json]`: ranked
// owners computed offline, with no cluster — the same rendezvous ranking
// (core/ownership/rendezvous.h) every agent computes, so an operator can see
// where a target will be checked, or what moves when a member joins.
//
// `heck owners TARGET... [--api HOST:PORT] [--json]` (no --members): asks a
// running agent instead (GET /v1/owners/{id}), over its live members; the
// table adds whether the target is registered, --json prints each answer as
// the API sent it, one per line.
//
//   --members      member names, comma separated; NAME=WEIGHT sets a weight
//   --targets      a JSON file: an array of target specs, or an object with a
//                  "targets" array (an agent config); each target's
//                  `checkers` sets how many owners it has
//   TARGET...      target ids (1 owner each, or --checkers N)
//   --fallbacks N  also list the next N members in priority order (default 2)
//   --json         one JSON object per target instead of a table
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/ownership/owner_split.h"
#include "core/ownership/rendezvous.h"
#include "core/target_spec.h"
#include "runtime/api_client.h"
#include "tools/heck/commands.h"

namespace heck::cli {
namespace {

struct OwnersArgs {
  ClientArgs client;  // --api mode
  std::string members;
  std::string targets_file;
  std::vector<std::string> target_ids;
  int checkers = 1;
  int fallbacks = 2;
  bool json = false;
};

[[noreturn]] void fail(std::string_view message) {
  std::fprintf(stderr, "heck owners: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(2);
}

std::vector<RankedMember> parse_members(const std::string& text) {
  std::vector<RankedMember> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    RankedMember m;
    const auto eq = item.find('=');
    m.name = item.substr(0, eq);
    if (m.name.empty()) fail(fmt::format("--members: empty name in '{}'", item));
    if (eq != std::string::npos) {
      try {
        std::size_t used = 0;
        m.weight = std::stod(item.substr(eq + 1), &used);
        if (used != item.size() - eq - 1) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        fail(fmt::format("--members: weight of '{}' is not a number", m.name));
      }
      if (!(m.weight > 0) || m.weight > 1e6) fail(fmt::format("--members: weight of '{}' must be in (0, 1e6]", m.name));
    }
    for (const auto& other : out) {
      if (other.name == m.name) fail(fmt::format("--members: '{}' given twice", m.name));
    }
    out.push_back(std::move(m));
  }
  if (out.empty()) fail("--members: no member names");
  return out;
}

std::vector<TargetSpec> load_targets(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(fmt::format("{}: cannot open", path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(fmt::format("{}: not JSON: {}", path, e.what()));
  }
  const nlohmann::json& list = j.is_object() && j.contains("targets") ? j.at("targets") : j;
  auto specs = parse_target_list(list, "targets");
  if (!specs) fail(fmt::format("{}: {}", path, specs.error()));
  return *specs;
}

// Asks the agent at --api for each id.
void run_owners_api(const OwnersArgs& args) {
  if (!args.targets_file.empty()) fail("--targets needs --members (offline mode)");
  if (args.target_ids.empty()) fail("no targets: give target ids");
  for (const auto& id : args.target_ids) {
    if (!valid_target_id(id)) fail(fmt::format("target id '{}' must be 1-128 characters of A-Z a-z 0-9 . _ : -", id));
  }
  const auto client = make_client(args.client);
  std::vector<std::vector<std::string>> rows;
  std::string raw_lines;
  for (const auto& id : args.target_ids) {
    std::string raw;
    auto r = client.get("/v1/owners/" + runtime::encode_path_segment(id), &raw);
    if (!r) client_fail(1, r.error());
    if (!r->is_object()) client_fail(1, fmt::format("agent at {} sent a bad /v1/owners/{}", args.client.api, id));
    raw_lines += raw + (raw.ends_with("\n") ? "" : "\n");
    const bool registered = r->value("registered", false);
    rows.push_back({id, json_names(*r, "owners"), json_names(*r, "fallbacks"), registered ? "yes" : "no"});
  }
  print_out(args.client.json ? raw_lines : format_table({"TARGET", "OWNERS", "FALLBACKS", "REGISTERED"}, rows));
}

void run_owners(const OwnersArgs& args) {
  if (args.members.empty()) return run_owners_api(args);
  const auto members = parse_members(args.members);
  struct Row {
    std::string id;
    int checkers;
  };
  std::vector<Row> rows;
  if (!args.targets_file.empty()) {
    for (const auto& spec : load_targets(args.targets_file)) {
      rows.push_back({spec.id, spec.checkers});
    }
  }
  for (const auto& id : args.target_ids) {
    if (!valid_target_id(id)) fail(fmt::format("target id '{}' must be 1-128 characters of A-Z a-z 0-9 . _ : -", id));
    rows.push_back({id, args.checkers});
  }
  if (rows.empty()) fail("no targets: give --targets FILE or target ids");

  if (!args.json) fmt::print("{:<32} {:<32} {}\n", "TARGET", "OWNERS", "FALLBACKS");
  for (const auto& row : rows) {
    const auto max_fallbacks = static_cast<std::size_t>(args.fallbacks);
    const OwnerSplit split =
        split_owners(ranked_names(row.id, members, ranked_needed(row.checkers, max_fallbacks)), row.checkers,
                     max_fallbacks);
    const std::vector<std::string>& own = split.owners;
    const std::vector<std::string>& rest = split.fallbacks;
    if (args.json) {
      fmt::print("{}\n", nlohmann::json{{"id", row.id}, {"owners", own}, {"fallbacks", rest}}.dump());
    } else {
      fmt::print("{:<32} {:<32} {}\n", row.id, fmt::format("{}", fmt::join(own, ",")),
                 rest.empty() ? "-" : fmt::format("{}", fmt::join(rest, ",")));
    }
  }
}

}  // namespace

void register_owners_command(CLI::App& app) {
  auto args = std::make_shared<OwnersArgs>();
  CLI::App* cmd = app.add_subcommand(
      "owners", "Rank the owners of targets: offline with --members (no cluster needed), else ask the agent at --api");
  auto* members = cmd->add_option("--members", args->members,
                                  "Member names, comma separated (NAME=WEIGHT for a weight): offline mode");
  cmd->add_option("--api", args->client.api, "without --members: the agent to ask, HOST:PORT")
      ->capture_default_str()
      ->excludes(members);
  cmd->add_option("--token", args->client.token, "unused (reads need no token); accepted for symmetry");
  cmd->add_option("--api-timeout-ms", args->client.timeout_ms, "give up on the agent after this long")
      ->check(CLI::Range(1, 600'000));
  cmd->add_option("--targets", args->targets_file, "JSON file: an array of target specs or a config with \"targets\"");
  cmd->add_option("--checkers", args->checkers, "Owners per target given by id (default 1)")->check(CLI::Range(1, 16));
  cmd->add_option("--fallbacks", args->fallbacks, "Fallback members listed after the owners (default 2)")
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--json", args->json, "One JSON object per line");
  // --json serves both modes.
  cmd->callback([args] {
    args->client.json = args->json;
    run_owners(*args);
  });
  cmd->add_option("target", args->target_ids, "Target ids");
}

}  // namespace heck::cli
