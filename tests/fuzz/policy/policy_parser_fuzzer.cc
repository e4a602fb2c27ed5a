// libFuzzer target for the policy model. Besides "no crash, no leak, no
// undefined behaviour" it checks the module's promises on every input:
//   - every failure is an InvalidArgument "input:LINE: message" with LINE>0;
//   - whatever parses has a canonical form, and re-parsing the canonical
//     figure-15 conversion or derive output succeeds;
//   - derive output is always a final VM configuration;
//   - the admission check answers OK or PermissionDenied, nothing else.
// A broken promise aborts, which libFuzzer reports with the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tvd/policy/canonical.h"
#include "tvd/policy/fig15_import.h"
#include "tvd/policy/host_requirements_parser.h"
#include "tvd/policy/policy_file.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/policy/vm_policy_check.h"
#include "tvd/policy/vm_template.h"

namespace {

constexpr std::string_view kSource = "input";

void CheckError(const tvd::Status& s) {
  if (s.code() != tvd::ErrorCode::kInvalidArgument) std::abort();
  const std::string& m = s.message();
  // "input:" then a positive line number then ": ".
  if (m.rfind("input:", 0) != 0) std::abort();
  std::size_t i = 6;
  std::size_t digits = 0;
  while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i, ++digits;
  if (digits == 0 || m[6] == '0') std::abort();
  if (m.compare(i, 2, ": ") != 0) std::abort();
}

template <typename T>
void Check(const tvd::StatusOr<T>& r) {
  if (!r.ok()) {
    CheckError(r.status());
    return;
  }
  (void)tvd::policy::ToJson(*r, 2);
  (void)tvd::policy::CanonicalDigest(*r);
}

void TryDerive(std::string_view text, const tvd::policy::VmConfig& vm) {
  tvd::policy::DeriveParams p;
  p.name = "fuzzed-vm";
  p.uuid = "12345678-1234-4234-8234-123456789abc";
  p.kernel_path = "/images/vmlinuz";
  p.initrd_path = "/images/initrd.img";
  for (const auto& d : vm.disks)
    p.disks.emplace_back(d.target, "/images/" + d.target);
  for (const auto& v : vm.tvd.vnets) p.networks.emplace_back(v.target, "net-a");
  const auto hasher =
      [](const std::string& path) -> tvd::StatusOr<tvd::Sha256Digest> {
    return tvd::Sha256(path);
  };
  auto derived = tvd::policy::DeriveVm(text, kSource, p, hasher);
  if (!derived.ok()) return;  // e.g. a vnet whose interface is missing
  if (derived->config.IsTemplate()) std::abort();
  if (!tvd::policy::ParseVmConfig(derived->xml, "again",
                                  tvd::policy::VmConfigMode::kFinal)
           .ok()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using tvd::policy::VmConfigMode;
  Check(tvd::policy::ParseHostRequirements(text, kSource));
  auto final_vm =
      tvd::policy::ParseVmConfig(text, kSource, VmConfigMode::kFinal);
  Check(final_vm);
  auto policy = tvd::policy::ParseTvdPolicy(text, kSource);
  Check(policy);
  if (final_vm.ok() || policy.ok()) {
    // Admission answers yes or "permission denied", nothing else.
    static const tvd::policy::VmConfig kNoVm;
    const tvd::policy::TvdPolicy owner =
        policy.ok() ? *policy : tvd::policy::TvdPolicy{};
    const tvd::policy::VmConfig& vm = final_vm.ok() ? *final_vm : kNoVm;
    const tvd::Status s =
        tvd::policy::CheckVmAgainstPolicies(vm, owner, {&owner, 1});
    if (!s.ok() && s.code() != tvd::ErrorCode::kPermissionDenied) std::abort();
  }
  auto vm =
      tvd::policy::ParseVmConfig(text, kSource, VmConfigMode::kTemplateAllowed);
  Check(vm);
  if (vm.ok()) TryDerive(text, *vm);
  Check(tvd::policy::ParseAnyPolicy(text, kSource,
                                    VmConfigMode::kTemplateAllowed));
  auto imported = tvd::policy::ImportFig15(text, kSource);
  if (!imported.ok()) {
    // Conversion output is re-parsed under "input (converted)"; that is the
    // one place an error may name a derived source.
    if (imported.status().message().rfind("input (converted):", 0) != 0) {
      CheckError(imported.status());
    }
  } else if (!tvd::policy::ParseVmConfig(imported->xml, "again",
                                         VmConfigMode::kTemplateAllowed)
                  .ok()) {
    std::abort();
  }
  return 0;
}
