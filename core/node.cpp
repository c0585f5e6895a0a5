#include "core/node.h"

#include <type_traits>

namespace heck {

Node::Node(NodeConfig config, std::uint64_t seed)
    : config_(std::move(config)), scheduler_(seed, config_.scheduler) {}

void Node::start(Instant now, Effects& out) {
  for (const auto& spec : config_.targets) scheduler_.add_target(now, spec, out);
}

void Node::step(Instant now, Input in, Effects& out) {
  std::visit(
      [&](auto&& input) {
        using T = std::decay_t<decltype(input)>;
        if constexpr (std::is_same_v<T, TimerFired>) {
          scheduler_.handle_timer(now, input.key, out);
        } else if constexpr (std::is_same_v<T, CheckDone>) {
          scheduler_.handle_check_done(now, input.check, std::move(input.outcome), out);
        } else if constexpr (std::is_same_v<T, AddTarget>) {
          scheduler_.add_target(now, std::move(input.spec), out);
        } else if constexpr (std::is_same_v<T, RemoveTarget>) {
          scheduler_.remove_target(now, input.id, out);
        }
      },
      std::move(in));
}

}  // namespace heck
