#include "tvd/protocol/master_client.h"

#include <openssl/crypto.h>

#include "tvd/attest/attestation_session.h"
#include "tvd/attest/messages.h"
#include "tvd/channel/channel_client.h"
#include "tvd/log.h"

namespace tvd::protocol {

using channel::Frame;
using channel::MessageType;

MasterClient::MasterClient(std::string host_name, MasterEndpoint endpoint,
                           const channel::TlsContext& tls,
                           attest::Attester& attester,
                           MasterClientOptions options)
    : host_name_(std::move(host_name)),
      endpoint_(std::move(endpoint)),
      tls_(tls),
      attester_(attester),
      options_(options) {}

MasterClient::~MasterClient() { Close(); }

void MasterClient::Close() {
  if (member_) member_->Close();
  member_.reset();
}

StatusOr<channel::ConnectionPtr> MasterClient::Connect(
    std::size_t max_payload) const {
  channel::ClientOptions co;
  co.connect_timeout = options_.connect_timeout;
  co.max_payload = max_payload;
  co.expected_peer = endpoint_.identity;
  return channel::ConnectChannel(endpoint_.address, endpoint_.port, tls_, co);
}

StatusOr<JoinGrant> MasterClient::Join(const JoinRequest& request) {
  Close();
  // The member channel carries the whole member list in the JoinGrant.
  TVD_ASSIGN_OR_RETURN(channel::ConnectionPtr conn,
                       Connect(kMemberChannelMaxPayload));
  attest::SessionTimeouts t{options_.io_timeout, options_.io_timeout};
  TVD_RETURN_IF_ERROR(
      conn->WriteFrame(MessageType::kJoinRequest, Encode(request), t.write));
  if (options_.enrol_ak) {
    TVD_RETURN_IF_ERROR(attest::EnrolWithMaster(*conn, attester_, t));
  }
  TVD_RETURN_IF_ERROR(attest::AttestToMaster(*conn, attester_, t));
  TVD_ASSIGN_OR_RETURN(Frame frame,
                       conn->ReadExpected(MessageType::kJoinGrant, t.read));
  auto grant = DecodeJoinGrant(frame.payload);
  OPENSSL_cleanse(frame.payload.data(), frame.payload.size());
  if (!grant.ok()) {
    conn->SendErrorAndClose(grant.status());
    return grant.status();
  }
  if (grant->tvd != request.tvd) {
    Status s = ProtocolError("JoinGrant is for TVD '" + grant->tvd +
                             "', asked for '" + request.tvd + "'");
    conn->SendErrorAndClose(s);
    return s;
  }
  member_ = std::move(conn);
  members_ =
      options_.keep_member_list ? MemberList(grant->members) : MemberList();
  return std::move(grant).value();
}

Status MasterClient::Serve(const MasterEvents& events,
                           const std::atomic<bool>& stop) {
  if (!member_) return FailedPrecondition("not joined: call Join() first");
  channel::Connection& conn = *member_;
  const auto slice = options_.stop_check;
  while (!stop) {
    if (!conn.WaitReadable(slice)) continue;
    TVD_ASSIGN_OR_RETURN(Frame frame, conn.ReadFrame(options_.io_timeout));
    switch (frame.type) {
      case MessageType::kError:
        return channel::DecodeErrorPayload(frame.payload).WithContext("peer");
      case MessageType::kAttestChallenge: {
        auto challenge = attest::DecodeAttestChallenge(frame.payload);
        if (!challenge.ok()) {
          conn.SendErrorAndClose(challenge.status());
          return challenge.status();
        }
        auto evidence = attester_.Answer(*challenge, conn.channel_binding());
        if (!evidence.ok()) {
          conn.SendErrorAndClose(evidence.status());
          return evidence.status();
        }
        // A challenge may also come in place of a verdict, asking for the
        // whole IMA log (its full_log_reason); it is answered the same way.
        TVD_RETURN_IF_ERROR(
            attest::WriteEvidence(conn, *evidence, options_.io_timeout));
        break;
      }
      case MessageType::kAttestVerdict:
        break;  // accepted; refusals arrive as kError
      case MessageType::kMembershipUpdate: {
        auto m = DecodeMembershipUpdate(frame.payload);
        OPENSSL_cleanse(frame.payload.data(), frame.payload.size());
        Status applied = !m.ok()                     ? m.status()
                         : options_.keep_member_list ? members_.Apply(*m)
                                                     : Status::Ok();
        if (!applied.ok()) {
          conn.SendErrorAndClose(applied);
          return applied;
        }
        if (events.on_membership) {
          events.on_membership(std::move(m).value(), members_);
        }
        break;
      }
      case MessageType::kPolicyUpdate: {
        auto m = DecodePolicyUpdate(frame.payload);
        if (!m.ok()) {
          conn.SendErrorAndClose(m.status());
          return m.status();
        }
        if (events.on_policy) events.on_policy(std::move(m).value());
        break;
      }
      case MessageType::kGuestQuoteOrder: {
        auto m = DecodeGuestQuoteOrder(frame.payload);
        if (!m.ok()) {
          conn.SendErrorAndClose(m.status());
          return m.status();
        }
        if (events.on_guest_quote) {
          events.on_guest_quote(std::move(m).value());
        } else {
          GuestQuoteReport report{m->id, m->tvd, m->vm, "",
                                  "this host does not relay guest quotes"};
          Status s = ReportGuestQuote(report);
          if (!s.ok()) {
            log::Warning("guest quote ", m->id, ": ", s.ToString());
          }
        }
        break;
      }
      case MessageType::kLeaveNotice: {
        auto m = DecodeLeaveNotice(frame.payload);
        if (!m.ok()) {
          conn.SendErrorAndClose(m.status());
          return m.status();
        }
        if (events.on_leave) events.on_leave(std::move(m).value());
        Close();
        return Status::Ok();
      }
      default: {
        Status s = ProtocolError("unexpected message type " +
                                 std::to_string(static_cast<int>(frame.type)) +
                                 " on the member channel");
        conn.SendErrorAndClose(s);
        return s;
      }
    }
  }
  return Status::Ok();
}

StatusOr<Frame> MasterClient::Request(MessageType type,
                                      std::span<const std::uint8_t> payload,
                                      MessageType expected) const {
  TVD_ASSIGN_OR_RETURN(channel::ConnectionPtr conn, Connect());
  TVD_RETURN_IF_ERROR(conn->WriteFrame(type, payload, options_.io_timeout));
  auto frame = conn->ReadExpected(expected, options_.io_timeout);
  conn->Close();
  return frame;
}

Status MasterClient::ReportGuestQuote(const GuestQuoteReport& report) {
  return Request(MessageType::kGuestQuoteReport, Encode(report),
                 MessageType::kAck)
      .status();
}

Status MasterClient::Leave(const std::string& tvd, const std::string& reason) {
  // The master checks `host` against the certificate of the connection.
  LeaveNotice notice{tvd, host_name_, reason};
  return Request(MessageType::kLeaveNotice, Encode(notice), MessageType::kAck)
      .status();
}

StatusOr<Frame> MasterClient::AttestedRequest(
    MessageType type, std::span<const std::uint8_t> payload,
    MessageType expected) const {
  // The master attests this very connection before it answers: the quote
  // is bound to this connection's TLS exporter.
  TVD_ASSIGN_OR_RETURN(channel::ConnectionPtr conn, Connect());
  attest::SessionTimeouts t{options_.io_timeout, options_.io_timeout};
  TVD_RETURN_IF_ERROR(conn->WriteFrame(type, payload, t.write));
  TVD_RETURN_IF_ERROR(attest::AnswerChallenge(*conn, attester_, t));
  auto answer = conn->ReadExpected(expected, t.read);
  conn->Close();
  return answer;
}

namespace {

// Decodes a key grant from `frame` (whose payload is wiped) and checks it
// answers tvd/vm.
template <typename Grant, typename DecodeFn>
StatusOr<Grant> DecodeGrant(Frame frame, DecodeFn decode, std::string_view name,
                            const std::string& tvd, const std::string& vm) {
  auto decoded = decode(frame.payload);
  OPENSSL_cleanse(frame.payload.data(), frame.payload.size());
  TVD_ASSIGN_OR_RETURN(Grant grant, std::move(decoded));
  if (grant.tvd != tvd || grant.vm != vm) {
    return ProtocolError(std::string(name) + " is for " + grant.tvd + "/" +
                         grant.vm + ", asked for " + tvd + "/" + vm);
  }
  return grant;
}

}  // namespace

StatusOr<DiskKeyGrant> MasterClient::RequestDiskKey(const std::string& tvd,
                                                    const std::string& vm) {
  TVD_ASSIGN_OR_RETURN(Frame frame,
                       AttestedRequest(MessageType::kDiskKeyRequest,
                                       Encode(DiskKeyRequest{tvd, vm}),
                                       MessageType::kDiskKeyGrant));
  return DecodeGrant<DiskKeyGrant>(std::move(frame), DecodeDiskKeyGrant,
                                   "DiskKeyGrant", tvd, vm);
}

StatusOr<VtpmKeyGrant> MasterClient::RequestVtpmKey(const std::string& tvd,
                                                    const std::string& vm) {
  TVD_ASSIGN_OR_RETURN(Frame frame,
                       AttestedRequest(MessageType::kVtpmKeyRequest,
                                       Encode(VtpmKeyRequest{tvd, vm}),
                                       MessageType::kVtpmKeyGrant));
  return DecodeGrant<VtpmKeyGrant>(std::move(frame), DecodeVtpmKeyGrant,
                                   "VtpmKeyGrant", tvd, vm);
}

Status MasterClient::RecordVtpm(const VtpmRecord& record) {
  return Request(MessageType::kVtpmRecord, Encode(record), MessageType::kAck)
      .status();
}

Status MasterClient::ClaimUsage(const UsageClaim& claim) {
  return Request(MessageType::kUsageClaim, Encode(claim), MessageType::kAck)
      .status();
}

Status MasterClient::ReportVm(const VmReport& report) {
  return Request(MessageType::kVmReport, Encode(report), MessageType::kAck)
      .status();
}

}  // namespace tvd::protocol
