#include "tvd/guest_agent/vtpm_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "tvd/attest/vtpm_ak_template.h"

namespace tvd::guest_agent {
namespace {

Status WriteAll(int fd, std::span<const std::uint8_t> data,
                const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("cannot write to " + what, errno);
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status ReadExactly(int fd, std::uint8_t* out, std::size_t size,
                   const std::string& what) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read from " + what, errno);
    if (n == 0) {
      return IoError(what + " closed the connection after " +
                     std::to_string(done) + " of " + std::to_string(size) +
                     " bytes");
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

// A TPM character device: the kernel takes one whole command per write and
// gives the whole response to one read.
class DeviceTransport : public TpmTransport {
 public:
  DeviceTransport(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  StatusOr<std::vector<std::uint8_t>> Transmit(
      std::span<const std::uint8_t> command) override {
    TVD_RETURN_IF_ERROR(WriteAll(fd_.get(), command, path_));
    std::vector<std::uint8_t> out(attest::tpmwire::kMaxTpmResponse);
    ssize_t n;
    do {
      n = ::read(fd_.get(), out.data(), out.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoError("cannot read from " + path_, errno);
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

// swtpm's data socket: a stream, so the response is read as its header
// announces.
class StreamTransport : public TpmTransport {
 public:
  StreamTransport(UniqueFd fd, std::string name)
      : fd_(std::move(fd)), name_(std::move(name)) {}
  StatusOr<std::vector<std::uint8_t>> Transmit(
      std::span<const std::uint8_t> command) override {
    TVD_RETURN_IF_ERROR(WriteAll(fd_.get(), command, name_));
    std::vector<std::uint8_t> out(10);
    TVD_RETURN_IF_ERROR(ReadExactly(fd_.get(), out.data(), 10, name_));
    TVD_ASSIGN_OR_RETURN(std::size_t size, attest::tpmwire::ResponseSize(out));
    out.resize(size);
    TVD_RETURN_IF_ERROR(
        ReadExactly(fd_.get(), out.data() + 10, size - 10, name_));
    return out;
  }

 private:
  UniqueFd fd_;
  std::string name_;
};

StatusOr<std::unique_ptr<TpmTransport>> OpenTcp(const std::string& spec) {
  std::string_view rest = std::string_view(spec).substr(4);
  std::size_t colon = rest.rfind(':');
  in_addr addr{};
  std::uint16_t port = 0;
  if (colon == std::string_view::npos) {
    return InvalidArgument("TPM '" + spec + "' is not tcp:ADDRESS:PORT");
  }
  std::string host(rest.substr(0, colon));
  std::string_view port_text = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (::inet_pton(AF_INET, host.c_str(), &addr) != 1 || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port == 0) {
    return InvalidArgument("TPM '" + spec +
                           "' is not tcp:IPV4-ADDRESS:PORT (1-65535)");
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError("cannot make a socket", errno);
  // A TPM that stops answering must not hang the agent forever.
  timeval tv{30, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr = addr;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return ErrnoError("cannot connect to TPM " + spec, errno);
  }
  return std::unique_ptr<TpmTransport>(
      std::make_unique<StreamTransport>(std::move(fd), spec));
}

}  // namespace

StatusOr<std::unique_ptr<TpmTransport>> OpenTpm(const std::string& spec) {
  if (spec.starts_with("tcp:")) return OpenTcp(spec);
  if (!spec.starts_with("/dev/")) {
    return InvalidArgument("TPM '" + spec +
                           "' is neither a /dev/ path nor tcp:ADDRESS:PORT");
  }
  UniqueFd fd(::open(spec.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open TPM " + spec, errno);
  return std::unique_ptr<TpmTransport>(
      std::make_unique<DeviceTransport>(std::move(fd), spec));
}

StatusOr<std::vector<std::uint8_t>> VtpmClient::Call(
    std::span<const std::uint8_t> command) {
  for (int attempt = 0;; ++attempt) {
    TVD_ASSIGN_OR_RETURN(auto rsp, tpm_->Transmit(command));
    if (attempt >= 20 || !attest::tpmwire::IsRetryResponse(rsp)) return rsp;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

StatusOr<std::vector<std::uint8_t>> VtpmClient::AkPublic() {
  auto cmd = attest::tpmwire::CreatePrimaryCommand(
      attest::kVtpmAkHierarchy, attest::kVtpmAkTemplatePublic);
  TVD_ASSIGN_OR_RETURN(auto rsp, Call(cmd));
  TVD_ASSIGN_OR_RETURN(attest::tpmwire::CreatedPrimary ak,
                       attest::tpmwire::ParseCreatePrimaryResponse(rsp));
  TVD_ASSIGN_OR_RETURN(rsp,
                       Call(attest::tpmwire::FlushContextCommand(ak.handle)));
  TVD_RETURN_IF_ERROR(attest::tpmwire::ParseFlushContextResponse(rsp));
  return std::move(ak.public_area);
}

Status VtpmClient::Extend(std::uint32_t pcr,
                          const attest::tpmwire::PcrDigest& digest) {
  TVD_ASSIGN_OR_RETURN(auto cmd,
                       attest::tpmwire::PcrExtendCommand(pcr, digest));
  TVD_ASSIGN_OR_RETURN(auto rsp, Call(cmd));
  return attest::tpmwire::ParsePcrExtendResponse(rsp);
}

StatusOr<std::vector<attest::GuestPcr>> VtpmClient::ReadPcrs(
    std::span<const std::uint32_t> pcrs, std::uint32_t* update_counter) {
  std::vector<std::uint32_t> left(pcrs.begin(), pcrs.end());
  std::vector<attest::GuestPcr> out;
  std::uint32_t counter = 0;
  bool first = true;
  // A TPM returns at most 8 digests a call; ask again for the rest, and
  // start over if a PCR changed in between.
  for (int round = 0; !left.empty(); ++round) {
    if (round > 8) return Internal("TPM2_PCR_Read returns no progress");
    TVD_ASSIGN_OR_RETURN(auto cmd, attest::tpmwire::PcrReadCommand(left));
    TVD_ASSIGN_OR_RETURN(auto rsp, Call(cmd));
    TVD_ASSIGN_OR_RETURN(attest::tpmwire::PcrReadResult r,
                         attest::tpmwire::ParsePcrReadResponse(rsp));
    if (!first && r.update_counter != counter) {
      return FailedPrecondition("PCRs changed while they were read");
    }
    first = false;
    counter = r.update_counter;
    for (std::size_t i = 0; i < r.pcrs.size(); ++i) {
      auto it = std::find(left.begin(), left.end(), r.pcrs[i]);
      if (it == left.end()) {
        return InvalidArgument("TPM2_PCR_Read response: PCR " +
                               std::to_string(r.pcrs[i]) +
                               " was not asked for");
      }
      left.erase(it);
      out.push_back({r.pcrs[i], r.values[i]});
    }
    if (r.pcrs.empty()) {
      return InvalidArgument("TPM2_PCR_Read response: no PCR returned");
    }
  }
  std::sort(out.begin(), out.end(),
            [](const attest::GuestPcr& a, const attest::GuestPcr& b) {
              return a.index < b.index;
            });
  if (update_counter != nullptr) *update_counter = counter;
  return out;
}

StatusOr<attest::GuestQuoteAnswer> VtpmClient::Quote(
    std::span<const std::uint8_t> nonce, std::span<const std::uint32_t> pcrs) {
  TVD_ASSIGN_OR_RETURN(
      auto cmd, attest::tpmwire::QuoteCommand(0, nonce, pcrs));  // validates
  auto create = attest::tpmwire::CreatePrimaryCommand(
      attest::kVtpmAkHierarchy, attest::kVtpmAkTemplatePublic);
  TVD_ASSIGN_OR_RETURN(auto rsp, Call(create));
  TVD_ASSIGN_OR_RETURN(attest::tpmwire::CreatedPrimary ak,
                       attest::tpmwire::ParseCreatePrimaryResponse(rsp));
  attest::GuestQuoteAnswer answer;
  answer.ak_public = ak.public_area;
  Status result = FailedPrecondition("PCRs kept changing during the quote");
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::uint32_t before = 0;
    std::uint32_t after = 0;
    auto values = ReadPcrs(pcrs, &before);
    if (!values.ok()) {
      result = values.status();
      break;
    }
    auto quote_cmd = attest::tpmwire::QuoteCommand(ak.handle, nonce, pcrs);
    auto quote_rsp = Call(*quote_cmd);
    if (!quote_rsp.ok()) {
      result = quote_rsp.status();
      break;
    }
    auto quote = attest::tpmwire::ParseQuoteResponse(*quote_rsp);
    if (!quote.ok()) {
      result = quote.status();
      break;
    }
    auto again = ReadPcrs(pcrs, &after);
    if (!again.ok()) {
      result = again.status();
      break;
    }
    if (before == after && *again == *values) {
      answer.attest = std::move(quote->attest);
      answer.signature = std::move(quote->signature);
      answer.pcrs = std::move(*values);
      result = Status::Ok();
      break;
    }
  }
  // The AK is transient: flush it whatever happened, so a resource-managed
  // TPM does not fill up with keys.
  auto flushed = Call(attest::tpmwire::FlushContextCommand(ak.handle));
  if (result.ok() && !flushed.ok()) result = flushed.status();
  if (result.ok())
    result = attest::tpmwire::ParseFlushContextResponse(*flushed);
  if (!result.ok()) return result;
  (void)cmd;
  return answer;
}

}  // namespace tvd::guest_agent
