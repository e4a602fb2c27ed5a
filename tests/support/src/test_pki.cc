#include "tvd/testing/test_pki.h"

#include <sys/stat.h>

#include <fstream>

namespace tvd::testing {
namespace {

Status WriteFile(const std::string& path, std::string_view text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) return IoError("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return IoError("cannot set the mode of " + path);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<TestPki> TestPki::Create(std::string dir) {
  TVD_ASSIGN_OR_RETURN(pki::KeyAndCertificate ca,
                       pki::CreateCa("vdc-test", pki::Validity::ForDays(1)));
  TVD_RETURN_IF_ERROR(WriteFile(dir + "/ca.pem", ca.cert_pem, 0644));
  return TestPki(std::move(dir), std::move(ca));
}

StatusOr<pki::KeyAndCertificate> TestPki::Issue(pki::Role role,
                                                const std::string& name,
                                                const std::string& file) {
  TVD_ASSIGN_OR_RETURN(
      pki::KeyAndCertificate c,
      pki::IssueCertificate(ca_, role, name, pki::Validity::ForDays(1)));
  TVD_RETURN_IF_ERROR(WriteFile(dir_ + "/" + file + ".pem", c.cert_pem, 0644));
  auto key = c.key_pem.view();
  TVD_RETURN_IF_ERROR(WriteFile(
      dir_ + "/" + file + ".key",
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
      0600));
  return c;
}

StatusOr<std::unique_ptr<channel::TlsContext>> TestPki::ClientTls(
    const pki::KeyAndCertificate& identity) const {
  return channel::TlsContext::Create(
      channel::TlsSide::kClient,
      {ca_.cert_pem, identity.cert_pem, identity.key_pem.Clone()});
}

}  // namespace tvd::testing
