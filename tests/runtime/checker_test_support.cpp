#include "tests/runtime/checker_test_support.h"

#include <algorithm>

#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace heck::runtime::test_support {

namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
}

}  // namespace

TestCert make_self_signed_cert(const std::string& subject_alt_names, long valid_seconds) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  require(key != nullptr, "EVP_EC_gen");
  X509* x = X509_new();
  require(x != nullptr, "X509_new");
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), std::min(-60L, valid_seconds - 3600));
  X509_gmtime_adj(X509_getm_notAfter(x), valid_seconds);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("heck test"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_names},
                            std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    require(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  require(X509_sign(x, key, EVP_sha256()) > 0, "X509_sign");

  TestCert out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  out.cert_pem = bio_text(b);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_text(b);
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

struct TlsTestServer::State {
  asio::ssl::context ctx{asio::ssl::context::tls_server};
  std::mutex mutex;
  std::string sni;
};

namespace {

asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<TlsTestServer::State> state,
                                std::shared_ptr<std::atomic<int>> handshakes);

}  // namespace

TlsTestServer::TlsTestServer(const TestCert& cert)
    : state_(std::make_shared<State>()), handshakes_(std::make_shared<std::atomic<int>>(0)) {
  state_->ctx.use_certificate_chain(asio::buffer(cert.cert_pem));
  state_->ctx.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
  server_ = std::make_unique<TestServer>(
      [state = state_, hs = handshakes_](tcp::socket s) { return serve_tls(std::move(s), state, hs); });
}

TlsTestServer::~TlsTestServer() = default;

std::string TlsTestServer::sni() const {
  std::lock_guard lock(state_->mutex);
  return state_->sni;
}

namespace {

asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<TlsTestServer::State> state,
                                std::shared_ptr<std::atomic<int>> handshakes) {
  asio::ssl::stream<tcp::socket> stream(std::move(socket), state->ctx);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;
  ++*handshakes;
  if (const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
    std::lock_guard lock(state->mutex);
    state->sni = name;
  }
  std::string buf;
  auto [ec2, n] = co_await asio::async_read_until(stream, asio::dynamic_buffer(buf, 64 * 1024), "\r\n\r\n", kTuple);
  if (ec2) co_return;
  const std::string response = http_response(200, "ok");
  co_await asio::async_write(stream, asio::buffer(response), kTuple);
  co_await stream.async_shutdown(kTuple);
}

}  // namespace

}  // namespace heck::runtime::test_support
