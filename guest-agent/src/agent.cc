#include "tvd/guest_agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "tvd/attest/guest_quote.h"
#include "tvd/guest_agent/vtpm_client.h"
#include "tvd/unique_fd.h"

namespace tvd::guest_agent {

std::string AnswerQuoteRequest(std::string_view line,
                               const std::string& tpm_spec) {
  auto request = attest::ParseGuestQuoteRequest(line);
  if (!request.ok()) {
    return attest::FormatGuestQuoteError(request.status().message());
  }
  auto tpm = OpenTpm(tpm_spec);
  if (!tpm.ok()) return attest::FormatGuestQuoteError(tpm.status().message());
  VtpmClient client(std::move(*tpm));
  auto answer = client.Quote(request->nonce, request->pcrs);
  if (!answer.ok()) {
    return attest::FormatGuestQuoteError(answer.status().message());
  }
  auto line_out = attest::FormatGuestQuoteAnswer(*answer);
  if (!line_out.ok()) {
    return attest::FormatGuestQuoteError(line_out.status().message());
  }
  return *line_out;
}

Status ServeQuotes(const std::string& port, const std::string& tpm_spec,
                   const std::atomic<bool>& stop) {
  UniqueFd fd(::open(port.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open " + port, errno);
  std::string pending;
  bool skipping = false;  // inside an over-long line, up to its newline
  char buf[4096];
  while (!stop.load()) {
    pollfd p{fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) return ErrnoError("poll " + port, errno);
    if (ready <= 0) continue;
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoError("cannot read " + port, errno);
    if (n == 0) {
      // The host side is not connected: nothing to answer until it is.
      pending.clear();
      skipping = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl + 1);
      pending.erase(0, nl + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      std::string answer = AnswerQuoteRequest(line, tpm_spec);
      std::size_t done = 0;
      while (done < answer.size()) {
        ssize_t w =
            ::write(fd.get(), answer.data() + done, answer.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;  // the host went away; its next request retries
        done += static_cast<std::size_t>(w);
      }
    }
    if (pending.size() > attest::kMaxGuestLine) {
      std::string answer = attest::FormatGuestQuoteError(
          "request line exceeds " + std::to_string(attest::kMaxGuestLine) +
          " bytes");
      (void)!::write(fd.get(), answer.data(), answer.size());
      pending.clear();
      skipping = true;
    }
  }
  return Status::Ok();
}

}  // namespace tvd::guest_agent
