#include "runtime/cluster/keyring.h"

#include <cassert>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace heck::runtime::cluster {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Decrypts `body` (ciphertext then tag) under `key`; false if it does not
// authenticate.
bool gcm_open(const Key& key, std::span<const std::uint8_t> nonce, std::uint8_t aad,
              std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag, Bytes& out) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return false;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1) {
    return false;
  }
  if (EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1) return false;
  int len = 0;
  if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, &aad, 1) != 1) return false;
  out.resize(ciphertext.size());
  if (!ciphertext.empty() && EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data(),
                                               static_cast<int>(ciphertext.size())) != 1) {
    return false;
  }
  std::array<std::uint8_t, kTagBytes> tag_copy{};
  std::copy(tag.begin(), tag.end(), tag_copy.begin());
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag_copy.data()) != 1) {
    return false;
  }
  int final_len = 0;
  // Returns <= 0 when the tag does not match.
  return EVP_DecryptFinal_ex(ctx.get(), out.data() + out.size(), &final_len) > 0;
}

}  // namespace

// --- keys ---------------------------------------------------------------------

Result<Key> parse_key(std::string_view text) {
  constexpr std::size_t kEncodedBytes = (kKeyBytes + 2) / 3 * 4;  // 44
  if (text.size() != kEncodedBytes) {
    return Error{fmt::format("a key must be {} characters of base64 (32 bytes, e.g. from `heck keygen`), got {} "
                             "characters",
                             kEncodedBytes, text.size())};
  }
  std::vector<std::uint8_t> out;
  out.reserve(kKeyBytes + 2);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int v = 0;
      if (c == '=') {
        // Padding only at the very end.
        if (i + 4 != text.size() || j < 2) return Error{"a key is not valid base64 ('=' in the middle)"};
        ++pad;
      } else {
        if (pad > 0) return Error{"a key is not valid base64 (characters after '=')"};
        v = base64_value(c);
        if (v < 0) {
          return Error{fmt::format("a key is not valid base64 (character {} is not in A-Z a-z 0-9 + /)", i + j + 1)};
        }
      }
      group = (group << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(group));
  }
  if (out.size() != kKeyBytes) {
    return Error{fmt::format("a key must decode to {} bytes, got {}", kKeyBytes, out.size())};
  }
  Key key{};
  std::copy(out.begin(), out.end(), key.begin());
  // Canonical form only: no stray bits in the last character.
  if (format_key(key) != text) return Error{"a key is not canonical base64 (stray bits before the padding)"};
  return key;
}

std::string format_key(const Key& key) {
  std::string out;
  out.reserve((kKeyBytes + 2) / 3 * 4);
  for (std::size_t i = 0; i < key.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, key.size() - i);
    std::uint32_t group = static_cast<std::uint32_t>(key[i]) << 16;
    if (n > 1) group |= static_cast<std::uint32_t>(key[i + 1]) << 8;
    if (n > 2) group |= key[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += n > 1 ? kAlphabet[(group >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[group & 63] : '=';
  }
  return out;
}

Result<Key> generate_key() {
  Key key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return Error{"OpenSSL's random generator failed (not seeded?)"};
  }
  return key;
}

std::string_view to_string(RejectReason r) {
  switch (r) {
    case RejectReason::truncated: return "truncated";
    case RejectReason::bad_format: return "bad_format";
    case RejectReason::auth_failed: return "auth_failed";
    case RejectReason::replayed: return "replayed";
    case RejectReason::oversize: return "oversize";
    case RejectReason::kCount: break;
  }
  return "?";
}

std::uint64_t KeyringCounters::rejected_total() const {
  std::uint64_t n = 0;
  for (auto v : rejected) n += v;
  return n;
}

// --- Keyring ------------------------------------------------------------------

Keyring::Keyring(std::vector<Key> keys) : keys_(std::move(keys)) { assert(keys_.size() <= kMaxKeys); }

Result<Keyring> Keyring::from_base64(const std::vector<std::string>& keys, std::string_view what) {
  if (keys.size() > kMaxKeys) {
    return Error{fmt::format("{}: at most {} keys, got {}", what, kMaxKeys, keys.size())};
  }
  std::vector<Key> parsed;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto k = parse_key(keys[i]);
    if (!k) return Error{fmt::format("{}[{}]: {}", what, i, k.error())};
    parsed.push_back(*k);
  }
  return Keyring(std::move(parsed));
}

Result<Bytes> Keyring::seal(std::span<const std::uint8_t> plain) {
  if (keys_.empty()) {
    ++counters_.sealed;
    return Bytes(plain.begin(), plain.end());
  }
  auto fail = [&](std::string_view what) -> Result<Bytes> {
    ++counters_.seal_errors;
    return Error{fmt::format("sealing a packet failed: {}", what)};
  };
  Bytes out(kSealOverheadBytes + plain.size());
  out[0] = kSealFormat;
  std::uint8_t* nonce = out.data() + 1;
  std::uint8_t* cipher = nonce + kNonceBytes;
  std::uint8_t* tag = cipher + plain.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceBytes)) != 1) return fail("RAND_bytes");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return fail("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1) return fail("init");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1) {
    return fail("IV length");
  }
  if (EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, keys_.front().data(), nonce) != 1) return fail("key");
  int len = 0;
  const std::uint8_t aad = kSealFormat;
  if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, &aad, 1) != 1) return fail("AAD");
  if (!plain.empty() &&
      EVP_EncryptUpdate(ctx.get(), cipher, &len, plain.data(), static_cast<int>(plain.size())) != 1) {
    return fail("encrypt");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + plain.size(), &final_len) != 1) return fail("final");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), tag) != 1) {
    return fail("tag");
  }
  ++counters_.sealed;
  return out;
}

Opened Keyring::open(std::span<const std::uint8_t> sealed) {
  Opened r;
  auto reject = [&](RejectReason why) {
    count_rejected(why);
    r.ok = false;
    r.reason = why;
    r.plaintext.clear();
    return r;
  };
  if (keys_.empty()) {
    ++counters_.opened;
    r.ok = true;
    r.plaintext.assign(sealed.begin(), sealed.end());
    return r;
  }
  if (sealed.empty()) return reject(RejectReason::truncated);
  if (sealed[0] != kSealFormat) return reject(RejectReason::bad_format);
  if (sealed.size() < kSealOverheadBytes) return reject(RejectReason::truncated);
  const auto nonce = sealed.subspan(1, kNonceBytes);
  const auto cipher = sealed.subspan(1 + kNonceBytes, sealed.size() - kSealOverheadBytes);
  const auto tag = sealed.subspan(sealed.size() - kTagBytes);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (!gcm_open(keys_[i], nonce, kSealFormat, cipher, tag, r.plaintext)) continue;
    // Only authentic packets enter the replay window: garbage cannot evict
    // the nonces of real ones.
    if (!remember_nonce(nonce)) return reject(RejectReason::replayed);
    ++counters_.opened;
    if (i != 0) ++counters_.opened_with_old_key;
    r.ok = true;
    return r;
  }
  return reject(RejectReason::auth_failed);
}

void Keyring::count_rejected(RejectReason reason) {
  assert(reason < RejectReason::kCount);
  ++counters_.rejected[static_cast<std::size_t>(reason)];
}

bool Keyring::remember_nonce(std::span<const std::uint8_t> nonce) {
  std::string n(nonce.begin(), nonce.end());
  if (nonces_seen_.contains(n)) return false;
  if (nonce_order_.size() >= kReplayWindow) {
    nonces_seen_.erase(nonce_order_.front());
    nonce_order_.pop_front();
  }
  nonces_seen_.insert(n);
  nonce_order_.push_back(std::move(n));
  return true;
}

}  // namespace heck::runtime::cluster
