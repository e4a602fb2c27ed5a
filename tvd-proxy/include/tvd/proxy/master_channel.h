// One master replica as a tvd-proxy's MasterClientLink sees it: the calls of
// protocol::MasterClient (master_client.h) behind a small interface, so the
// link's fail-over across a list of masters is unit-tested with fakes that
// script each replica (tests/unit/proxy/master_client_link_test.cc), and
// runs against real masters through MasterClientChannel.
//
// Threading is MasterClient's: Join/Serve/Close own the member channel and
// are called from one thread at a time; Leave, RequestDiskKey, ReportVm,
// ClaimUsage, RequestVtpmKey and RecordVtpm open their own request
// connections and may be called from any
// thread meanwhile.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "tvd/protocol/master_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::proxy {

class MasterChannel {
 public:
  virtual ~MasterChannel() = default;
  // "ADDRESS:PORT", for logs and errors.
  virtual const std::string& name() const = 0;
  // MasterClient::Join: opens the member channel, attests, returns the
  // grant. Errors as MasterClient::Join documents them.
  virtual StatusOr<protocol::JoinGrant> Join(
      const protocol::JoinRequest& request) = 0;
  // MasterClient::Serve: OK after a LeaveNotice or when `stop` became true;
  // Unavailable when the channel dropped; the peer's error otherwise.
  virtual Status Serve(const protocol::MasterEvents& events,
                       const std::atomic<bool>& stop) = 0;
  // Closes the member channel without telling the master.
  virtual void Close() = 0;
  virtual Status Leave(const std::string& tvd, const std::string& reason) = 0;
  virtual StatusOr<protocol::DiskKeyGrant> RequestDiskKey(
      const std::string& tvd, const std::string& vm) = 0;
  virtual Status ReportVm(const protocol::VmReport& report) = 0;
  virtual Status ClaimUsage(const protocol::UsageClaim& claim) = 0;
  virtual StatusOr<protocol::VtpmKeyGrant> RequestVtpmKey(
      const std::string& tvd, const std::string& vm) = 0;
  virtual Status RecordVtpm(const protocol::VtpmRecord& record) = 0;
  virtual Status ReportGuestQuote(const protocol::GuestQuoteReport& report) = 0;
};
using MasterChannelPtr = std::unique_ptr<MasterChannel>;

// The real replica: a MasterClient of its own (one per endpoint, since a
// MasterClient holds one member channel).
class MasterClientChannel : public MasterChannel {
 public:
  // `tls` and `attester` must outlive the channel (MasterClient's rule).
  MasterClientChannel(std::string host_name, protocol::MasterEndpoint endpoint,
                      const channel::TlsContext& tls,
                      attest::Attester& attester,
                      protocol::MasterClientOptions options = {});

  const std::string& name() const override { return name_; }
  StatusOr<protocol::JoinGrant> Join(
      const protocol::JoinRequest& request) override {
    return client_.Join(request);
  }
  Status Serve(const protocol::MasterEvents& events,
               const std::atomic<bool>& stop) override {
    return client_.Serve(events, stop);
  }
  void Close() override { client_.Close(); }
  Status Leave(const std::string& tvd, const std::string& reason) override {
    return client_.Leave(tvd, reason);
  }
  StatusOr<protocol::DiskKeyGrant> RequestDiskKey(
      const std::string& tvd, const std::string& vm) override {
    return client_.RequestDiskKey(tvd, vm);
  }
  Status ReportVm(const protocol::VmReport& report) override {
    return client_.ReportVm(report);
  }
  Status ClaimUsage(const protocol::UsageClaim& claim) override {
    return client_.ClaimUsage(claim);
  }
  StatusOr<protocol::VtpmKeyGrant> RequestVtpmKey(
      const std::string& tvd, const std::string& vm) override {
    return client_.RequestVtpmKey(tvd, vm);
  }
  Status RecordVtpm(const protocol::VtpmRecord& record) override {
    return client_.RecordVtpm(record);
  }
  Status ReportGuestQuote(const protocol::GuestQuoteReport& report) override {
    return client_.ReportGuestQuote(report);
  }

 private:
  std::string name_;
  protocol::MasterClient client_;
};

}  // namespace tvd::proxy
