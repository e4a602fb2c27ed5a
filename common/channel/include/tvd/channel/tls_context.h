// TLS settings of the trusted channel, in one place.
//
// Both sides: TLS 1.3 only (minimum and maximum protocol version), so there is
// no downgrade and no plaintext fallback; a certificate is required from the
// peer, and it must chain to the one configured VDC CA certificate (the
// system trust store is never consulted); verification depth allows only
// leaf -> CA. Session tickets/resumption are off so every connection carries
// a full certificate exchange. Each side sends its own certificate alone,
// never the CA's: the peer could not use it (it trusts only its own copy),
// and building the chain costs a verification and a parse per handshake.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::channel {

struct TlsCredentials {
  std::string ca_cert_pem;  // the VDC CA: the only trust anchor
  std::string cert_pem;     // this side's certificate
  SecureBytes key_pem;      // this side's private key

  TlsCredentials Clone() const {
    return {ca_cert_pem, cert_pem, key_pem.Clone()};
  }
};

enum class TlsSide { kClient, kServer };

class TlsContext {
 public:
  // InvalidArgument when a PEM does not parse or the key does not match the
  // certificate.
  static StatusOr<std::unique_ptr<TlsContext>> Create(
      TlsSide side, const TlsCredentials& credentials);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  TlsSide side() const { return side_; }

 private:
  TlsContext(SSL_CTX* ctx, TlsSide side) : ctx_(ctx), side_(side) {}
  SSL_CTX* ctx_;
  TlsSide side_;
};

using TlsContextPtr = std::unique_ptr<TlsContext>;

// The oldest queued OpenSSL error as text ("unsupported protocol"), or
// `fallback` when the queue is empty. Clears the calling thread's queue.
std::string TakeOpenSslError(const std::string& fallback);

}  // namespace tvd::channel
