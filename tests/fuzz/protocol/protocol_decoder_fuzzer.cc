// Fuzzes every decoder of the master protocol (tvd/protocol/messages.h).
// The first input byte picks the decoder, the rest is the payload. Whatever
// decodes must re-encode to exactly the same bytes (the encoding is
// canonical), so a decoder that accepts something it cannot have produced
// is caught too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tvd/protocol/member_list.h"
#include "tvd/protocol/messages.h"

namespace {

template <typename T>
void Check(const tvd::StatusOr<T>& decoded,
           std::span<const std::uint8_t> payload) {
  if (!decoded.ok()) {
    if (decoded.status().code() != tvd::ErrorCode::kProtocol) std::abort();
    return;
  }
  std::vector<std::uint8_t> again = tvd::protocol::Encode(*decoded);
  if (again.size() != payload.size() ||
      !std::equal(again.begin(), again.end(), payload.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::protocol;
  if (size == 0) return 0;
  std::span<const std::uint8_t> p(data + 1, size - 1);
  switch (data[0] % 21) {
    case 0:
      Check(DecodeJoinRequest(p), p);
      break;
    case 1:
      Check(DecodeJoinGrant(p), p);
      break;
    case 2: {
      auto update = DecodeMembershipUpdate(p);
      Check(update, p);
      if (update.ok()) {
        // Whatever the update, a list it does not fit stays as it was.
        const std::vector<Member> before = {{"n1", "198.18.0.1"},
                                            {"n2", "198.18.0.2"}};
        MemberList list(before);
        if (!list.Apply(*update).ok() && list.Sorted() != before) {
          std::abort();
        }
      }
      break;
    }
    case 3:
      Check(DecodeLeaveNotice(p), p);
      break;
    case 4:
      Check(DecodePolicyUpdate(p), p);
      break;
    case 5:
      Check(DecodeDiskKeyRequest(p), p);
      break;
    case 6:
      Check(DecodeDiskKeyGrant(p), p);
      break;
    case 7:
      Check(DecodeVmReport(p), p);
      break;
    case 8:
      Check(DecodeTvdAdd(p), p);
      break;
    case 9:
      Check(DecodeTvdUpdate(p), p);
      break;
    case 10:
      Check(DecodeTvdRemove(p), p);
      break;
    case 11:
      Check(DecodeAdminQuery(p), p);
      break;
    case 12:
      Check(DecodeAdminReply(p), p);
      break;
    case 13:
      Check(DecodeUsageClaim(p), p);
      break;
    case 14:
      Check(DecodeVtpmKeyRequest(p), p);
      break;
    case 15:
      Check(DecodeVtpmKeyGrant(p), p);
      break;
    case 16:
      Check(DecodeVtpmRecord(p), p);
      break;
    case 17:
      Check(DecodeVmAttestRequest(p), p);
      break;
    case 18:
      Check(DecodeVmAttestEvidence(p), p);
      break;
    case 19:
      Check(DecodeGuestQuoteOrder(p), p);
      break;
    case 20:
      Check(DecodeGuestQuoteReport(p), p);
      break;
  }
  return 0;
}
