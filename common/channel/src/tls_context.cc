#include "tvd/channel/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace tvd::channel {

std::string TakeOpenSslError(const std::string& fallback) {
  unsigned long e = ERR_get_error();
  std::string out = fallback;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    out = reason != nullptr ? reason : ("OpenSSL error " + std::to_string(e));
  }
  ERR_clear_error();
  return out;
}

StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(
    TlsSide side, const TlsCredentials& credentials) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(side == TlsSide::kServer ? TLS_server_method()
                                                      : TLS_client_method());
  if (ctx == nullptr) return Internal("cannot create TLS context");
  std::unique_ptr<TlsContext> out(new TlsContext(ctx, side));

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Internal("cannot restrict TLS to version 1.3");
  }
  // CLEANSE_PLAINTEXT: OpenSSL wipes a record's decrypted bytes once they
  // are read, where it would keep them until the next record (a JoinGrant
  // carries the TVD key).
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CLEANSE_PLAINTEXT);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // Send this side's certificate alone. Left to build the chain, OpenSSL
  // verifies its own certificate against the store at every handshake and
  // sends the CA certificate along, which the peer parses and cannot use:
  // it trusts only the CA in its own store, and the depth allows leaf ->
  // CA only. Both cost a third of a handshake's CPU (bench_tls_handshake).
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);

  // Trust exactly the VDC CA.
  BIO* bio = BIO_new_mem_buf(credentials.ca_cert_pem.data(),
                             static_cast<int>(credentials.ca_cert_pem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (ca == nullptr) return InvalidArgument("CA certificate does not parse");
  X509_STORE* store = X509_STORE_new();
  int added = X509_STORE_add_cert(store, ca);
  X509_free(ca);
  if (added != 1) {
    X509_STORE_free(store);
    return InvalidArgument("CA certificate cannot be used as trust anchor");
  }
  SSL_CTX_set_cert_store(ctx, store);  // ctx owns the store now
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  SSL_CTX_set_verify_depth(ctx, 1);

  bio = BIO_new_mem_buf(credentials.cert_pem.data(),
                        static_cast<int>(credentials.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return InvalidArgument("certificate does not parse");
  int used = SSL_CTX_use_certificate(ctx, cert);
  X509_free(cert);
  if (used != 1) return InvalidArgument("certificate cannot be used");

  bio = BIO_new_mem_buf(credentials.key_pem.data(),
                        static_cast<int>(credentials.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return InvalidArgument("private key does not parse");
  used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return InvalidArgument("private key does not match certificate");
  }
  ERR_clear_error();
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace tvd::channel
