// The cluster keyring: AES-256-GCM (OpenSSL EVP) around every packet and
// stream frame the agents exchange, so that bytes from outside the cluster,
// and bytes changed on the way, are rejected and counted before the node
// ever decodes them.
//
// A sealed packet:
//
//   [1 byte format (= kSealFormat)][12-byte random nonce][ciphertext][16-byte tag]
//
// The format byte is authenticated too (GCM additional data). Packets are
// sealed with the primary key (the first key in the ring) and opened with
// whichever key of the ring authenticates them, so a key can be rotated
// without a flag day:
//   1. add the new key to every agent, second in the ring (all can open it);
//   2. make it primary everywhere (all send with it, all still open the old);
//   3. remove the old key.
//
// Keys are 32 random bytes, written as standard base64 (44 characters) in
// the config ("keys": [...]) and on the command line (--key, repeatable);
// `heck keygen` prints a fresh one.
//
// No keys = PLAINTEXT: seal() and open() pass bytes through unchanged. Anyone
// who can reach the agent's port can then talk to the cluster; the agent logs
// a warning at start. A keyed agent rejects a plaintext packet (its first
// byte is not kSealFormat, or it does not authenticate), and a plaintext
// agent fails to decode a sealed one (the node counts it as malformed).
//
// Nonces are random (RAND_bytes). With 96-bit random nonces a key should seal
// fewer than 2^32 packets (NIST SP 800-38D, section 8.3): at 1,000 packets a
// second that is over 100 years per key. Rotate keys long before that.
//
// Replays: GCM alone accepts an authentic packet twice. The ring remembers
// the nonces of the last kReplayWindow packets it opened and rejects a
// repeat ("replayed"). Older replays pass: the protocol above tolerates
// duplicated and stale packets (sequence numbers, incarnations), this only
// keeps a flood of one captured packet cheap.
//
// Not thread-safe (open() updates the replay window and counters); used on
// the agent's io_context thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/net.h"
#include "core/result.h"

namespace heck::runtime::cluster {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 12;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::uint8_t kSealFormat = 1;
// Bytes a sealed packet adds to its plaintext.
inline constexpr std::size_t kSealOverheadBytes = 1 + kNonceBytes + kTagBytes;
inline constexpr std::size_t kMaxKeys = 16;
inline constexpr std::size_t kReplayWindow = 8192;

using Key = std::array<std::uint8_t, kKeyBytes>;

// "3q2+7w...=" (standard base64 of exactly 32 bytes, padding required;
// surrounding spaces are not allowed). The error says what is wrong without
// echoing the text (it is a secret).
Result<Key> parse_key(std::string_view base64);
std::string format_key(const Key& key);
// 32 bytes from OpenSSL's CSPRNG; an error if it is not seeded.
Result<Key> generate_key();

// Why an incoming packet was dropped before reaching the node. The transport
// adds its own reasons (runtime/cluster/transport.h) to the same metric.
enum class RejectReason : std::uint8_t {
  truncated = 0,    // shorter than a sealed packet can be
  bad_format = 1,   // first byte is not kSealFormat (plaintext, or another version)
  auth_failed = 2,  // no key in the ring authenticates it: foreign key or tampered
  replayed = 3,     // same nonce as a recently opened packet
  oversize = 4,     // transport: a datagram or frame over the limit
  kCount = 5,
};
std::string_view to_string(RejectReason r);

struct KeyringCounters {
  std::uint64_t sealed = 0;
  std::uint64_t opened = 0;
  std::uint64_t opened_with_old_key = 0;  // authenticated by a non-primary key (rotation under way)
  std::array<std::uint64_t, static_cast<std::size_t>(RejectReason::kCount)> rejected{};
  std::uint64_t seal_errors = 0;          // OpenSSL failed (should not happen)

  std::uint64_t rejected_total() const;
};

// An opened packet, or why it was rejected.
struct Opened {
  bool ok = false;
  RejectReason reason = RejectReason::truncated;  // when !ok
  Bytes plaintext;                                // when ok
};

class Keyring {
 public:
  // Plaintext (no keys).
  Keyring() = default;
  // REQUIRES: keys.size() <= kMaxKeys (config parsing enforces it). The first
  // key is primary. Duplicate keys are harmless.
  explicit Keyring(std::vector<Key> keys);
  // Parses base64 keys; the error names the index ("keys[1]: ...").
  static Result<Keyring> from_base64(const std::vector<std::string>& keys, std::string_view what = "keys");

  bool encrypted() const { return !keys_.empty(); }
  std::size_t size() const { return keys_.size(); }

  // Sealed bytes (or `plain` itself when plaintext). An error only when
  // OpenSSL fails.
  Result<Bytes> seal(std::span<const std::uint8_t> plain);
  // Opens and counts. Never throws for any input.
  Opened open(std::span<const std::uint8_t> sealed);
  // Counts a rejection decided elsewhere (the transport's oversize packets),
  // so that every reason is in one place.
  void count_rejected(RejectReason reason);

  const KeyringCounters& counters() const { return counters_; }

 private:
  bool remember_nonce(std::span<const std::uint8_t> nonce);  // false if seen recently

  std::vector<Key> keys_;
  KeyringCounters counters_;
  std::deque<std::string> nonce_order_;          // oldest first
  std::unordered_set<std::string> nonces_seen_;  // the same nonces, for lookup
};

}  // namespace heck::runtime::cluster
