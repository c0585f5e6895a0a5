// The keyring (runtime/cluster/keyring.h): AES-256-GCM sealing, key parsing,
// rejection of foreign, tampered, truncated and replayed packets.
#include "runtime/cluster/keyring.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck::runtime::cluster {
namespace {

using ::testing::HasSubstr;

Key key_of(std::uint8_t fill) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
  return k;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::uint64_t rejected(const Keyring& ring, RejectReason r) {
  return ring.counters().rejected[static_cast<std::size_t>(r)];
}

TEST(KeyringKeys, FormatAndParseRoundTrip) {
  for (std::uint8_t fill : {0, 7, 200}) {
    const Key k = key_of(fill);
    const std::string text = format_key(k);
    EXPECT_EQ(text.size(), 44u);
    EXPECT_EQ(text.back(), '=');
    auto back = parse_key(text);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, k);
  }
}

TEST(KeyringKeys, KnownVector) {
  Key zero{};
  EXPECT_EQ(format_key(zero), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

TEST(KeyringKeys, RefusesBadText) {
  const std::string good = format_key(key_of(1));
  struct Case {
    std::string text;
    std::string_view says;
  };
  std::vector<Case> cases = {
      {"", "44 characters"},
      {good.substr(0, 43), "44 characters"},
      {good + "A", "44 characters"},
      {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "32 bytes"},  // 31 bytes
      {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "32 bytes"},  // 33 bytes
      {"AAAAAAAAAAAAAAAAAAAA*AAAAAAAAAAAAAAAAAAAAAA=", "character 21"},
      {"AAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "'='"},
      {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", "canonical"},  // stray low bits
  };
  for (const auto& c : cases) {
    auto k = parse_key(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_THAT(k.error(), HasSubstr(std::string(c.says))) << c.text;
  }
}

TEST(KeyringKeys, ErrorsNameTheIndexNotTheSecret) {
  const std::string good = format_key(key_of(1));
  const std::string bad = "secret-secret-secret-secret-secret-secret-xx";
  auto ring = Keyring::from_base64({good, bad}, "--key");
  ASSERT_FALSE(ring.ok());
  EXPECT_THAT(ring.error(), HasSubstr("--key[1]"));
  EXPECT_THAT(ring.error(), ::testing::Not(HasSubstr("secret")));
  EXPECT_FALSE(Keyring::from_base64(std::vector<std::string>(kMaxKeys + 1, good)).ok());
}

TEST(KeyringKeys, GeneratedKeysDiffer) {
  auto a = generate_key();
  auto b = generate_key();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(parse_key(format_key(*a)).ok());
}

TEST(Keyring, RoundTrip) {
  Keyring ring({key_of(1)});
  for (std::size_t n : {0u, 1u, 100u, 1400u, 70000u}) {
    Bytes plain(n);
    for (std::size_t i = 0; i < n; ++i) plain[i] = static_cast<std::uint8_t>(i * 31);
    auto sealed = ring.seal(plain);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), n + kSealOverheadBytes);
    EXPECT_EQ((*sealed)[0], kSealFormat);
    if (n >= 16) {
      // The plaintext does not appear in the clear.
      EXPECT_EQ(std::search(sealed->begin(), sealed->end(), plain.begin(), plain.begin() + 16), sealed->end());
    }
    Opened o = ring.open(*sealed);
    ASSERT_TRUE(o.ok) << to_string(o.reason);
    EXPECT_EQ(o.plaintext, plain);
  }
  EXPECT_EQ(ring.counters().opened, 5u);
  EXPECT_EQ(ring.counters().rejected_total(), 0u);
}

TEST(Keyring, SameTextSealsDifferently) {
  Keyring ring({key_of(1)});
  const Bytes plain = bytes_of("ping");
  EXPECT_NE(*ring.seal(plain), *ring.seal(plain));  // fresh nonce each time
}

TEST(Keyring, WrongKeyIsRejected) {
  Keyring a({key_of(1)});
  Keyring b({key_of(2)});
  auto sealed = a.seal(bytes_of("hello cluster"));
  Opened o = b.open(*sealed);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, RejectReason::auth_failed);
  EXPECT_TRUE(o.plaintext.empty());
  EXPECT_EQ(rejected(b, RejectReason::auth_failed), 1u);
}

TEST(Keyring, EveryFlippedBitIsRejected) {
  Keyring ring({key_of(1)});
  const Bytes sealed = *ring.seal(bytes_of("a small membership packet"));
  std::size_t flips = 0;
  for (std::size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes t = sealed;
      t[byte] ^= static_cast<std::uint8_t>(1u << bit);
      Opened o = ring.open(t);
      ASSERT_FALSE(o.ok) << "byte " << byte << " bit " << bit;
      // The format byte is checked first; everything else fails to authenticate.
      EXPECT_EQ(o.reason, byte == 0 ? RejectReason::bad_format : RejectReason::auth_failed);
      ++flips;
    }
  }
  EXPECT_EQ(ring.counters().rejected_total(), flips);
  // The untouched packet still opens (no rejection poisoned the window).
  EXPECT_TRUE(ring.open(sealed).ok);
}

TEST(Keyring, EveryTruncationIsRejected) {
  Keyring ring({key_of(1)});
  const Bytes sealed = *ring.seal(bytes_of("a packet that will be cut short"));
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    Opened o = ring.open(std::span<const std::uint8_t>(sealed.data(), n));
    ASSERT_FALSE(o.ok) << n;
    EXPECT_EQ(o.reason, n < kSealOverheadBytes ? RejectReason::truncated : RejectReason::auth_failed) << n;
  }
  // Extra bytes at the end are tampering too.
  Bytes longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(ring.open(longer).reason, RejectReason::auth_failed);
}

TEST(Keyring, RandomGarbageIsRejected) {
  Keyring ring({key_of(1)});
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 500; ++i) {
    Bytes junk(static_cast<std::size_t>(i % 97));
    for (auto& b : junk) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<std::uint8_t>(x);
    }
    if (i % 2 == 0 && !junk.empty()) junk[0] = kSealFormat;  // past the format check
    EXPECT_FALSE(ring.open(junk).ok);
  }
  EXPECT_EQ(ring.counters().rejected_total(), 500u);
  EXPECT_EQ(ring.counters().opened, 0u);
}

TEST(Keyring, PlaintextPacketIsRejectedByAKeyedRing) {
  Keyring plain_ring;
  Keyring keyed({key_of(1)});
  const Bytes msg = {0x94, 0x01, 0xa1, 'a'};  // what an unkeyed agent sends (MessagePack)
  const Bytes sent = *plain_ring.seal(msg);
  EXPECT_EQ(sent, msg);
  Opened o = keyed.open(sent);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, RejectReason::bad_format);
}

TEST(Keyring, NoKeysPassesBytesThrough) {
  Keyring ring;
  EXPECT_FALSE(ring.encrypted());
  const Bytes msg = bytes_of("clear");
  EXPECT_EQ(*ring.seal(msg), msg);
  Opened o = ring.open(msg);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.plaintext, msg);
}

TEST(Keyring, RotationOldKeyStillOpens) {
  const Key old_key = key_of(1);
  const Key new_key = key_of(2);
  Keyring old_only({old_key});
  Keyring step1({old_key, new_key});  // new key added, old still primary
  Keyring step2({new_key, old_key});  // new key primary
  Keyring new_only({new_key});

  // Step 1 agents and old agents understand each other both ways.
  EXPECT_TRUE(step1.open(*old_only.seal(bytes_of("a"))).ok);
  EXPECT_TRUE(old_only.open(*step1.seal(bytes_of("b"))).ok);
  // Step 2 agents send with the new key, which step 1 agents can open.
  EXPECT_TRUE(step1.open(*step2.seal(bytes_of("c"))).ok);
  EXPECT_EQ(step1.counters().opened_with_old_key, 1u);  // "c" came with its second key
  // ... and still open packets from step-1 agents.
  EXPECT_TRUE(step2.open(*step1.seal(bytes_of("d"))).ok);
  // After the old key is dropped, its packets are foreign.
  EXPECT_EQ(new_only.open(*old_only.seal(bytes_of("e"))).reason, RejectReason::auth_failed);
  EXPECT_TRUE(new_only.open(*step2.seal(bytes_of("f"))).ok);
}

TEST(Keyring, ReplayIsRejected) {
  Keyring ring({key_of(1)});
  const Bytes sealed = *ring.seal(bytes_of("once"));
  EXPECT_TRUE(ring.open(sealed).ok);
  Opened again = ring.open(sealed);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.reason, RejectReason::replayed);
  EXPECT_EQ(rejected(ring, RejectReason::replayed), 1u);
}

TEST(Keyring, ReplayWindowIsBounded) {
  Keyring ring({key_of(1)});
  const Bytes first = *ring.seal(bytes_of("first"));
  EXPECT_TRUE(ring.open(first).ok);
  for (std::size_t i = 0; i < kReplayWindow; ++i) ASSERT_TRUE(ring.open(*ring.seal(bytes_of("x"))).ok);
  // The first nonce has been forgotten (bounded memory): a very old replay passes.
  EXPECT_TRUE(ring.open(first).ok);
}

TEST(Keyring, ReasonsHaveNames) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(RejectReason::kCount); ++i) {
    EXPECT_NE(to_string(static_cast<RejectReason>(i)), "?");
  }
}

}  // namespace
}  // namespace heck::runtime::cluster
