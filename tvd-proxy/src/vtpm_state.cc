#include "tvd/proxy/vtpm_state.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "tvd/attest/esys_tpm.h"
#include "tvd/attest/swtpm_process.h"
#include "tvd/policy/values.h"

namespace tvd::proxy {
namespace {

Status CheckUuid(const std::string& uuid) {
  bool lower = std::none_of(uuid.begin(), uuid.end(),
                            [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!policy::IsUuid(uuid) || !lower) {
    return InvalidArgument("not a domain UUID: '" + uuid + "'");
  }
  return Status::Ok();
}

// Starts a private swtpm on `dir` (creating the TPM and its encrypted
// state), reads the EK and the vTPM AK, and stops it.
StatusOr<VtpmPublics> ReadPublics(const std::string& dir,
                                  const SecureBytes& passphrase) {
  attest::SwtpmProcessOptions o;
  o.state_dir = dir;
  o.passphrase = &passphrase;
  TVD_ASSIGN_OR_RETURN(attest::SwtpmProcess swtpm,
                       attest::SwtpmProcess::Start(o));
  VtpmPublics out;
  {
    attest::EsysTpmOptions tpm_options;
    tpm_options.tcti = swtpm.tcti();
    tpm_options.ak_algorithm = attest::AkAlgorithm::kVtpm;
    TVD_ASSIGN_OR_RETURN(auto tpm, attest::EsysTpm::Open(tpm_options));
    TVD_ASSIGN_OR_RETURN(out.ek_public, tpm->EkPublic());
    TVD_ASSIGN_OR_RETURN(out.ak_public, tpm->AkPublic());
  }
  TVD_RETURN_IF_ERROR(swtpm.Stop());
  return out;
}

}  // namespace

std::string SwtpmVtpmStates::StateDir(const std::string& uuid) const {
  return storage_dir_ + "/" + uuid + "/tpm2";
}

bool SwtpmVtpmStates::Exists(const std::string& uuid) {
  if (!CheckUuid(uuid).ok()) return false;
  std::error_code ec;
  return std::filesystem::exists(
      std::filesystem::symlink_status(storage_dir_ + "/" + uuid, ec));
}

StatusOr<VtpmPublics> SwtpmVtpmStates::Create(const std::string& uuid,
                                              const SecureBytes& passphrase) {
  TVD_RETURN_IF_ERROR(CheckUuid(uuid));
  const std::string domain_dir = storage_dir_ + "/" + uuid;
  const std::string dir = StateDir(uuid);
  // As libvirt makes them: the storage and each domain's directory 0711
  // (libvirt's swtpm user only passes through them), the state directory
  // 0700 (libvirt hands it and its files to that user on start).
  if (::mkdir(storage_dir_.c_str(), 0711) == 0) {
    // Made here: 0711 whatever the umask (a daemon's is often 027), or
    // libvirt's swtpm user cannot reach any state below it.
    if (::chmod(storage_dir_.c_str(), 0711) != 0) {
      return ErrnoError("chmod 0711 " + storage_dir_, errno);
    }
  } else if (errno != EEXIST) {
    return ErrnoError("creating vTPM storage directory " + storage_dir_, errno);
  }
  if (::mkdir(domain_dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) {
      return AlreadyExists("vTPM state of domain " + uuid +
                           " already exists (" + domain_dir + ")");
    }
    return ErrnoError("creating vTPM state directory " + domain_dir, errno);
  }
  auto publics = [&]() -> StatusOr<VtpmPublics> {
    if (::chmod(domain_dir.c_str(), 0711) != 0) {  // whatever the umask
      return ErrnoError("chmod 0711 " + domain_dir, errno);
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return ErrnoError("creating vTPM state directory " + dir, errno);
    }
    return ReadPublics(dir, passphrase);
  }();
  if (!publics.ok()) {
    Status removed = Remove(uuid);
    Status failed =
        publics.status().WithContext("creating the vTPM of domain " + uuid);
    if (!removed.ok()) {
      return Status(failed.code(),
                    failed.message() + " (and: " + removed.message() + ")");
    }
    return failed;
  }
  return publics;
}

Status SwtpmVtpmStates::Remove(const std::string& uuid) {
  TVD_RETURN_IF_ERROR(CheckUuid(uuid));
  const std::string domain_dir = storage_dir_ + "/" + uuid;
  std::error_code ec;
  std::filesystem::remove_all(domain_dir, ec);
  if (ec) {
    return IoError("removing vTPM state " + domain_dir + ": " + ec.message());
  }
  if (std::filesystem::exists(
          std::filesystem::symlink_status(domain_dir, ec))) {
    return IoError("vTPM state " + domain_dir +
                   " is still there after removal");
  }
  return Status::Ok();
}

}  // namespace tvd::proxy
