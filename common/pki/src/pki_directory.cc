#include "tvd/pki/pki_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tvd/pki/private_file.h"

namespace tvd::pki {
namespace {

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Writes key then certificate; if the certificate cannot be written the key
// is removed again so no half-issued pair is left behind.
StatusOr<IssuedFiles> WritePair(const std::string& base,
                                const KeyAndCertificate& kc) {
  IssuedFiles files{base + ".key", base + ".crt"};
  if (::access(files.cert_path.c_str(), F_OK) == 0) {
    return AlreadyExists(files.cert_path + " already exists");
  }
  TVD_RETURN_IF_ERROR(WriteNewFile(files.key_path, kc.key_pem.view(), 0600));
  Status s = WriteNewFile(files.cert_path, Bytes(kc.cert_pem), 0644);
  if (!s.ok()) {
    ::unlink(files.key_path.c_str());
    return s;
  }
  return files;
}

Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno != EEXIST)
    return ErrnoError("cannot create directory " + dir, errno);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgument(dir + " exists and is not a directory");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<IssuedFiles> InitCaDirectory(const std::string& dir,
                                      const std::string& name,
                                      int validity_days) {
  if (dir.empty()) return InvalidArgument("PKI directory must not be empty");
  TVD_RETURN_IF_ERROR(EnsureDirectory(dir));
  if (::access((dir + "/ca.key").c_str(), F_OK) == 0) {
    return AlreadyExists(dir + "/ca.key already exists");
  }
  TVD_ASSIGN_OR_RETURN(KeyAndCertificate ca,
                       CreateCa(name, Validity::ForDays(validity_days)));
  return WritePair(dir + "/ca", ca);
}

StatusOr<KeyAndCertificate> LoadCa(const std::string& dir) {
  TVD_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(dir + "/ca.key"));
  TVD_ASSIGN_OR_RETURN(std::string cert, ReadSmallFile(dir + "/ca.crt"));
  KeyAndCertificate ca{
      SecureBytes(std::span<const std::uint8_t>(
          reinterpret_cast<const std::uint8_t*>(key.data()), key.size())),
      std::move(cert)};
  std::fill(key.begin(), key.end(), '\0');
  return ca;
}

StatusOr<IssuedFiles> IssueIntoDirectory(
    const std::string& dir, Role role, const std::string& name,
    int validity_days, const std::vector<std::string>& subject_alt_names) {
  if (!IsValidName(name)) {
    return InvalidArgument("invalid " + std::string(RoleName(role)) +
                           " name '" + name + "'");
  }
  TVD_ASSIGN_OR_RETURN(KeyAndCertificate ca, LoadCa(dir));
  std::string base = dir + "/" + std::string(RoleName(role)) + "-" + name;
  if (::access((base + ".key").c_str(), F_OK) == 0) {
    return AlreadyExists(base + ".key already exists");
  }
  TVD_ASSIGN_OR_RETURN(
      KeyAndCertificate issued,
      IssueCertificate(ca, role, name, Validity::ForDays(validity_days),
                       subject_alt_names));
  return WritePair(base, issued);
}

}  // namespace tvd::pki
