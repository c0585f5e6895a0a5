// Standard base64 (RFC 4648, with padding): the etcd JSON gateway carries
// keys and values as base64 strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace heck::store {

std::string base64_encode(std::string_view bytes);
// nullopt for text that is not padded base64 of the standard alphabet.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace heck::store
