#include "tvd/attest/guest_quote.h"

#include <algorithm>

#include "tvd/hex.h"

namespace tvd::attest {
namespace {

// Splits on single spaces; empty fields are kept so that double spaces are
// refused as a wrong field count rather than silently merged.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
}

// The line without its one final newline; refuses a long line, a missing
// newline and any other control byte.
StatusOr<std::string_view> Body(std::string_view line, const char* what) {
  auto fail = [what](const std::string& m) {
    return InvalidArgument(std::string("guest quote ") + what + ": " + m);
  };
  if (line.size() > kMaxGuestLine) {
    return fail("line of " + std::to_string(line.size()) +
                " bytes exceeds the maximum of " +
                std::to_string(kMaxGuestLine));
  }
  if (line.empty() || line.back() != '\n') {
    return fail("line does not end with a newline (truncated?)");
  }
  line.remove_suffix(1);
  for (std::size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c > 0x7e) {
      return fail("control or non-ASCII byte at position " + std::to_string(i));
    }
  }
  return line;
}

StatusOr<std::uint32_t> PcrIndex(std::string_view text) {
  if (text.empty() || text.size() > 2) {
    return InvalidArgument("'" + std::string(text) + "' is not a PCR 0-23");
  }
  std::uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return InvalidArgument("'" + std::string(text) + "' is not a PCR 0-23");
    }
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v >= tpmwire::kPcrCount || (text.size() == 2 && text[0] == '0')) {
    return InvalidArgument("'" + std::string(text) + "' is not a PCR 0-23");
  }
  return v;
}

Status CheckPcrOrder(std::span<const std::uint32_t> pcrs) {
  if (pcrs.empty()) return InvalidArgument("no PCR");
  for (std::size_t i = 0; i < pcrs.size(); ++i) {
    if (pcrs[i] >= tpmwire::kPcrCount) {
      return InvalidArgument("PCR " + std::to_string(pcrs[i]) +
                             " out of range 0-23");
    }
    if (i > 0 && pcrs[i] <= pcrs[i - 1]) {
      return InvalidArgument("PCR " + std::to_string(pcrs[i]) + " after " +
                             std::to_string(pcrs[i - 1]) +
                             " (ascending, each once)");
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<std::uint8_t>> Structure(std::string_view hex,
                                              const char* field) {
  if (hex.size() > 2 * kMaxGuestStructure) {
    return InvalidArgument(
        std::string(field) + " of " + std::to_string(hex.size() / 2) +
        " bytes exceeds the maximum of " + std::to_string(kMaxGuestStructure));
  }
  auto bytes = LowerHexToBytes(hex);
  if (!bytes.ok()) {
    return InvalidArgument(std::string(field) + ": " +
                           bytes.status().message());
  }
  if (bytes->empty()) return InvalidArgument(std::string(field) + " is empty");
  return bytes;
}

Status Prefixed(const Status& s, const char* what) {
  if (s.ok()) return s;
  return InvalidArgument(std::string("guest quote ") + what + ": " +
                         s.message());
}

}  // namespace

Status CheckGuestNonce(std::span<const std::uint8_t> nonce) {
  if (nonce.size() < kMinGuestNonce || nonce.size() > kMaxGuestNonce) {
    return InvalidArgument(
        "nonce of " + std::to_string(nonce.size()) + " bytes; it must be " +
        std::to_string(kMinGuestNonce) + "-" + std::to_string(kMaxGuestNonce));
  }
  return Status::Ok();
}

StatusOr<std::vector<std::uint32_t>> ParsePcrList(std::string_view text) {
  std::vector<std::uint32_t> out;
  auto fail = [&](const Status& s) {
    return InvalidArgument("PCR list '" + std::string(text.substr(0, 100)) +
                           "': " + s.message());
  };
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    auto index = PcrIndex(text.substr(
        start, comma == std::string_view::npos ? comma : comma - start));
    if (!index.ok()) return fail(index.status());
    out.push_back(*index);
    if (out.size() > tpmwire::kPcrCount) {
      return fail(InvalidArgument("more than 24 PCRs"));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  Status order = CheckPcrOrder(out);
  if (!order.ok()) return fail(order);
  return out;
}

std::string FormatPcrList(std::span<const std::uint32_t> pcrs) {
  std::string out;
  for (std::size_t i = 0; i < pcrs.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(pcrs[i]);
  }
  return out;
}

StatusOr<std::string> FormatGuestQuoteRequest(const GuestQuoteRequest& r) {
  TVD_RETURN_IF_ERROR(Prefixed(CheckGuestNonce(r.nonce), "request"));
  TVD_RETURN_IF_ERROR(Prefixed(CheckPcrOrder(r.pcrs), "request"));
  return "quote " + ToHex(r.nonce) + " " + FormatPcrList(r.pcrs) + "\n";
}

StatusOr<GuestQuoteRequest> ParseGuestQuoteRequest(std::string_view line) {
  TVD_ASSIGN_OR_RETURN(std::string_view body, Body(line, "request"));
  std::vector<std::string_view> f = Fields(body);
  if (f.size() != 3 || f[0] != "quote") {
    return InvalidArgument(
        "guest quote request: expected 'quote <nonce hex> <pcr list>'");
  }
  GuestQuoteRequest r;
  // Too long to be a nonce whatever its digits: refused before decoding.
  // (An odd length of 129 digits would otherwise count as 64 bytes here.)
  if (f[1].size() > 2 * kMaxGuestNonce) {
    return InvalidArgument(
        "guest quote request: nonce of " +
        std::to_string((f[1].size() + 1) / 2) + " bytes; it must be " +
        std::to_string(kMinGuestNonce) + "-" + std::to_string(kMaxGuestNonce));
  }
  auto nonce = LowerHexToBytes(f[1]);
  if (!nonce.ok()) {
    return InvalidArgument("guest quote request: nonce: " +
                           nonce.status().message());
  }
  r.nonce = std::move(*nonce);
  TVD_RETURN_IF_ERROR(Prefixed(CheckGuestNonce(r.nonce), "request"));
  auto pcrs = ParsePcrList(f[2]);
  if (!pcrs.ok()) return Prefixed(pcrs.status(), "request");
  r.pcrs = std::move(*pcrs);
  return r;
}

StatusOr<std::string> FormatGuestQuoteAnswer(const GuestQuoteAnswer& a) {
  auto check = [](std::span<const std::uint8_t> b, const char* field) {
    if (b.empty() || b.size() > kMaxGuestStructure) {
      return InvalidArgument(std::string("guest quote answer: ") + field +
                             " of " + std::to_string(b.size()) +
                             " bytes; it must be 1-" +
                             std::to_string(kMaxGuestStructure));
    }
    return Status::Ok();
  };
  TVD_RETURN_IF_ERROR(check(a.ak_public, "AK public"));
  TVD_RETURN_IF_ERROR(check(a.attest, "attest"));
  TVD_RETURN_IF_ERROR(check(a.signature, "signature"));
  std::vector<std::uint32_t> indices;
  for (const GuestPcr& p : a.pcrs) indices.push_back(p.index);
  TVD_RETURN_IF_ERROR(Prefixed(CheckPcrOrder(indices), "answer"));
  std::string out = "ok " + ToHex(a.ak_public) + " " + ToHex(a.attest) + " " +
                    ToHex(a.signature) + " ";
  for (std::size_t i = 0; i < a.pcrs.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(a.pcrs[i].index) + "=" + ToHex(a.pcrs[i].value);
  }
  return out + "\n";
}

std::string FormatGuestQuoteError(std::string_view text) {
  std::string out = "error ";
  for (char c : text.substr(0, kMaxGuestError)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u <= 0x7e ? c : '?');
  }
  return out + "\n";
}

StatusOr<GuestQuoteAnswer> ParseGuestQuoteAnswer(std::string_view line) {
  TVD_ASSIGN_OR_RETURN(std::string_view body, Body(line, "answer"));
  if (body.starts_with("error ")) {
    body.remove_prefix(6);
    if (body.size() > kMaxGuestError) {
      return InvalidArgument(
          "guest quote answer: error text of " + std::to_string(body.size()) +
          " bytes exceeds the maximum of " + std::to_string(kMaxGuestError));
    }
    return FailedPrecondition("guest agent: " + std::string(body));
  }
  std::vector<std::string_view> f = Fields(body);
  if (f.size() != 5 || f[0] != "ok") {
    return InvalidArgument(
        "guest quote answer: expected 'ok <AK public> <attest> <signature> "
        "<pcr>=<value>,...' or 'error <text>'");
  }
  GuestQuoteAnswer a;
  auto take = [](std::string_view hex, const char* field,
                 std::vector<std::uint8_t>& to) -> Status {
    auto bytes = Structure(hex, field);
    if (!bytes.ok()) return Prefixed(bytes.status(), "answer");
    to = std::move(*bytes);
    return Status::Ok();
  };
  TVD_RETURN_IF_ERROR(take(f[1], "AK public", a.ak_public));
  TVD_RETURN_IF_ERROR(take(f[2], "attest", a.attest));
  TVD_RETURN_IF_ERROR(take(f[3], "signature", a.signature));
  std::string_view pcrs = f[4];
  std::vector<std::uint32_t> indices;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = pcrs.find(',', start);
    std::string_view item = pcrs.substr(
        start, comma == std::string_view::npos ? comma : comma - start);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("guest quote answer: PCR value '" +
                             std::string(item.substr(0, 100)) +
                             "' is not <pcr>=<sha256 hex>");
    }
    auto index = PcrIndex(item.substr(0, eq));
    if (!index.ok()) return Prefixed(index.status(), "answer");
    std::string_view hex = item.substr(eq + 1);
    auto value = LowerHexToBytes(hex);
    if (!value.ok() || value->size() != 32) {
      return InvalidArgument("guest quote answer: value of PCR " +
                             std::to_string(*index) +
                             " is not 64 lower-case hex digits");
    }
    GuestPcr p;
    p.index = *index;
    std::copy(value->begin(), value->end(), p.value.begin());
    a.pcrs.push_back(p);
    indices.push_back(*index);
    if (indices.size() > tpmwire::kPcrCount) {
      return InvalidArgument("guest quote answer: more than 24 PCRs");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  TVD_RETURN_IF_ERROR(Prefixed(CheckPcrOrder(indices), "answer"));
  return a;
}

}  // namespace tvd::attest
