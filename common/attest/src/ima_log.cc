#include "tvd/attest/ima_log.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "small_digest.h"

namespace tvd::attest {
namespace {

// Hex digit values; 0xff marks a non-hex character.
struct HexTable {
  std::uint8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = 0xff;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<std::uint8_t>(i);
    for (int i = 0; i < 6; ++i) {
      v['a' + i] = static_cast<std::uint8_t>(10 + i);
      v['A' + i] = static_cast<std::uint8_t>(10 + i);
    }
  }
};
constexpr HexTable kHex;

// Decodes hex.size()/2 bytes. Branch-free in the loop (this runs for every
// byte of every entry); the validity of all digits is checked once at the
// end.
bool DecodeHex(std::string_view hex, std::uint8_t* out) {
  std::uint8_t bad = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(hex.data());
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    std::uint8_t hi = kHex.v[in[2 * i]];
    std::uint8_t lo = kHex.v[in[2 * i + 1]];
    bad |= static_cast<std::uint8_t>(hi | lo);
    out[i] = static_cast<std::uint8_t>((hi << 4) | (lo & 0x0f));
  }
  return (bad & 0xf0) == 0;
}

std::size_t DigestSizeOf(std::string_view algo) {
  if (algo == "sha256" || algo == "sm3") return 32;
  if (algo == "sha1") return 20;
  if (algo == "sha384") return 48;
  if (algo == "sha512") return 64;
  if (algo == "md5") return 16;
  return 0;
}

constexpr std::size_t kMaxPath = 4096;

void PutLe32(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

// One checked line, pointing into the log text and a per-thread buffer.
struct LineView {
  std::size_t line = 0;
  std::uint32_t pcr = 0;
  bool violation = false;
  std::string_view algo;
  std::span<const std::uint8_t> file_digest;
  std::string_view path;
  Sha256Digest template_sha256{};
  bool allowed = false;  // found in the allowlist (already checked)
};

Status LineError(std::size_t line, const std::string& what) {
  return InvalidArgument("IMA log line " + std::to_string(line) + ": " + what);
}

// Splits off the next space-separated field.
bool NextField(std::string_view& rest, std::string_view& field) {
  std::size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return false;
  field = rest.substr(0, sp);
  rest.remove_prefix(sp + 1);
  return true;
}

// ima-ng template data into `buffer`:
//   u32le len || algo ":" NUL digest || u32le len || path NUL
void BuildTemplateData(std::string_view algo,
                       std::span<const std::uint8_t> digest,
                       std::string_view path,
                       std::vector<std::uint8_t>& buffer) {
  std::size_t d_len = algo.size() + 2 + digest.size();
  std::size_t n_len = path.size() + 1;
  buffer.resize(8 + d_len + n_len);
  std::uint8_t* p = buffer.data();
  PutLe32(p, d_len);
  p += 4;
  std::memcpy(p, algo.data(), algo.size());
  p += algo.size();
  *p++ = ':';
  *p++ = 0;
  std::memcpy(p, digest.data(), digest.size());
  p += digest.size();
  PutLe32(p, n_len);
  p += 4;
  std::memcpy(p, path.data(), path.size());
  p += path.size();
  *p = 0;
}

class LineChecker {
 public:
  // Parses and checks one line. With an allowlist, a listed entry's template
  // hash comes from the list (no hashing); everything else is hashed.
  Status Check(std::string_view text, std::size_t line_no,
               const ImaAllowlist* allowlist, LineView& out) {
    out.line = line_no;
    std::string_view rest = text;
    std::string_view pcr_text, hash_text, template_name, digest_field;
    if (!NextField(rest, pcr_text) || !NextField(rest, hash_text) ||
        !NextField(rest, template_name) || !NextField(rest, digest_field)) {
      return LineError(line_no,
                       "expected 5 fields: PCR template-hash "
                       "template digest path");
    }
    if (pcr_text.empty() || pcr_text.size() > 2 ||
        !std::all_of(pcr_text.begin(), pcr_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return LineError(line_no, "PCR field is not a PCR number");
    }
    out.pcr = 0;
    for (char c : pcr_text)
      out.pcr = out.pcr * 10 + static_cast<std::uint32_t>(c - '0');
    if (out.pcr != kImaPcr) {
      return LineError(line_no, "entry for PCR " + std::to_string(out.pcr) +
                                    ", expected " + std::to_string(kImaPcr));
    }
    if (hash_text.size() != 40 && hash_text.size() != 64) {
      return LineError(line_no,
                       "template hash must be 40 (SHA-1) or 64 (SHA-256) hex "
                       "digits");
    }
    if (template_name != "ima-ng") {
      return LineError(line_no, "unsupported template '" +
                                    std::string(template_name.substr(0, 32)) +
                                    "' (only ima-ng)");
    }
    std::size_t colon = digest_field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return LineError(line_no, "file digest must be <algorithm>:<hex>");
    }
    out.algo = digest_field.substr(0, colon);
    std::string_view digest_hex = digest_field.substr(colon + 1);
    std::size_t digest_size = DigestSizeOf(out.algo);
    if (digest_size == 0) {
      return LineError(line_no, "unknown file digest algorithm '" +
                                    std::string(out.algo.substr(0, 16)) + "'");
    }
    if (digest_hex.size() != 2 * digest_size) {
      return LineError(line_no, "file digest has the wrong length for " +
                                    std::string(out.algo));
    }
    if (rest.empty() || rest.size() > kMaxPath ||
        rest.find('\0') != std::string_view::npos) {
      return LineError(line_no, "path is empty, too long or contains NUL");
    }
    out.path = rest;

    // Fast path for listed entries: compare the line's hex with the hex the
    // allowlist precomputed; nothing is decoded or hashed. Anything else
    // (unlisted, upper-case hex, a mismatch) takes the full path below,
    // which decides.
    if (allowlist != nullptr && out.algo == "sha256") {
      auto known = allowlist->LookupHex(out.path, digest_hex);
      if (known &&
          hash_text == (hash_text.size() == 64 ? known->template_sha256_hex
                                               : known->template_sha1_hex)) {
        out.file_digest = *known->digest;
        out.template_sha256 = known->templates->sha256;
        out.allowed = true;
        return Status::Ok();
      }
    }

    std::uint8_t column[32];
    if (!DecodeHex(hash_text, column)) {
      return LineError(line_no, "template hash is not hex");
    }
    if (!DecodeHex(digest_hex, digest_)) {
      return LineError(line_no, "file digest is not hex");
    }
    out.file_digest = std::span<const std::uint8_t>(digest_, digest_size);

    bool all_zero = std::all_of(column, column + hash_text.size() / 2,
                                [](std::uint8_t b) { return b == 0; });
    out.violation = all_zero;
    if (all_zero) {
      out.template_sha256.fill(0xff);
      return Status::Ok();
    }
    BuildTemplateData(out.algo, out.file_digest, out.path, buffer_);
    internal::Sha256Small(buffer_, {}, out.template_sha256.data());
    bool matches;
    if (hash_text.size() == 64) {
      matches = std::memcmp(column, out.template_sha256.data(), 32) == 0;
    } else {
      std::uint8_t sha1[20];
      internal::Sha1Small(buffer_, sha1);
      matches = std::memcmp(column, sha1, 20) == 0;
    }
    if (!matches) {
      return LineError(line_no,
                       "template hash does not match the entry's data (entry "
                       "edited?)");
    }
    return Status::Ok();
  }

 private:
  std::vector<std::uint8_t> buffer_;
  std::uint8_t digest_[64];
};

// Calls on_line(LineView&) for every line; stops at the first error.
template <typename F>
Status ForEachLine(std::string_view text, const ImaAllowlist* allowlist,
                   std::size_t lines_before, F&& on_line) {
  thread_local LineChecker checker;
  std::size_t line_no = lines_before;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return LineError(line_no, "last line is not terminated (truncated log?)");
    }
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    LineView view;
    TVD_RETURN_IF_ERROR(checker.Check(line, line_no, allowlist, view));
    TVD_RETURN_IF_ERROR(on_line(view));
  }
  return Status::Ok();
}

}  // namespace

std::uint64_t ImaAllowlist::HashOf(std::string_view path,
                                   const Sha256Digest& d) {
  std::uint64_t digest_bits = 0;
  std::memcpy(&digest_bits, d.data(), sizeof digest_bits);
  std::uint64_t h = std::hash<std::string_view>{}(path) ^ digest_bits;
  // Final mix so the low bits (the table index) depend on every input bit.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

const ImaAllowlist::Slot* ImaAllowlist::Find(std::string_view path,
                                             const Sha256Digest& digest,
                                             std::uint64_t hash) const {
  if (!table_ || table_->slots.empty()) return nullptr;
  const std::vector<Slot>& slots = table_->slots;
  std::size_t mask = slots.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots[i];
    if (!s.used) return nullptr;
    if (s.hash == hash && s.digest == digest &&
        std::string_view(table_->paths).substr(s.path_offset, s.path_length) ==
            path) {
      return &s;
    }
  }
}

void ImaAllowlist::Insert(Table& table, const Slot& slot) {
  std::size_t mask = table.slots.size() - 1;
  std::size_t i = slot.hash & mask;
  while (table.slots[i].used) i = (i + 1) & mask;
  table.slots[i] = slot;
}

const Sha256Digest& ImaAllowlist::fingerprint() const {
  static const Sha256Digest kEmpty{};
  return table_ ? table_->fingerprint : kEmpty;
}

void ImaAllowlist::Allow(std::string_view path, const Sha256Digest& digest) {
  std::uint64_t hash = HashOf(path, digest);
  if (Find(path, digest, hash) != nullptr) return;
  // Copy on write: other lists may share this table.
  if (!table_) {
    table_ = std::make_shared<Table>();
  } else if (table_.use_count() > 1) {
    table_ = std::make_shared<Table>(*table_);
  } else {
    // Sole owner: a copy another thread dropped just now may have been
    // read up to its release; order those reads before the writes below.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  Table& t = *table_;
  if (2 * (t.count + 1) > t.slots.size()) {
    std::vector<Slot> old = std::move(t.slots);
    t.slots.assign(std::max<std::size_t>(16, 2 * old.size()), Slot{});
    for (const Slot& s : old) {
      if (s.used) Insert(t, s);
    }
  }
  Slot slot;
  std::vector<std::uint8_t> data;
  BuildTemplateData("sha256", digest, path, data);
  internal::Sha256Small(data, {}, slot.templates.sha256.data());
  internal::Sha1Small(data, slot.templates.sha1.data());
  slot.hash = hash;
  slot.path_offset = static_cast<std::uint32_t>(t.paths.size());
  slot.path_length = static_cast<std::uint32_t>(path.size());
  slot.digest = digest;
  slot.used = true;
  {
    // fingerprint = SHA-256(fingerprint || u32le(len(path)) || path ||
    // digest): the length keeps (path, digest) pairs from running together.
    std::uint8_t length[4];
    PutLe32(length, path.size());
    Sha256Hasher h;
    h.Update(t.fingerprint);
    h.Update(std::span<const std::uint8_t>(length, 4));
    h.Update(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(path.data()), path.size()));
    h.Update(digest);
    t.fingerprint = h.Finish();
  }
  t.paths.append(path);
  slot.hex_offset = static_cast<std::uint32_t>(t.paths.size());
  t.paths += ToHex(digest);
  t.paths += ToHex(slot.templates.sha256);
  t.paths += ToHex(slot.templates.sha1);
  Insert(t, slot);
  ++t.count;
}

bool ImaAllowlist::Allows(std::string_view path,
                          const Sha256Digest& digest) const {
  return Find(path, digest, HashOf(path, digest)) != nullptr;
}

std::optional<ImaAllowlist::HexMatch> ImaAllowlist::LookupHex(
    std::string_view path, std::string_view digest_hex) const {
  if (!table_ || table_->slots.empty() || digest_hex.size() != 64) {
    return std::nullopt;
  }
  // The table hash uses the digest's first 8 bytes: decode only those.
  Sha256Digest prefix{};
  if (!DecodeHex(digest_hex.substr(0, 16), prefix.data())) return std::nullopt;
  std::uint64_t hash = HashOf(path, prefix);
  const std::vector<Slot>& slots = table_->slots;
  std::size_t mask = slots.size() - 1;
  std::string_view arena(table_->paths);
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots[i];
    if (!s.used) return std::nullopt;
    if (s.hash == hash && arena.substr(s.hex_offset, 64) == digest_hex &&
        arena.substr(s.path_offset, s.path_length) == path) {
      return HexMatch{&s.digest, &s.templates,
                      arena.substr(s.hex_offset + 64, 64),
                      arena.substr(s.hex_offset + 128, 40)};
    }
  }
}

const ImaAllowlist::TemplateDigests* ImaAllowlist::Lookup(
    std::string_view path, const Sha256Digest& digest) const {
  const Slot* slot = Find(path, digest, HashOf(path, digest));
  return slot != nullptr ? &slot->templates : nullptr;
}

Sha256Digest ExtendSha256(const Sha256Digest& pcr, const Sha256Digest& digest) {
  Sha256Digest out;
  internal::Sha256Small(pcr, digest, out.data());
  return out;
}

StatusOr<std::vector<ImaEntry>> ParseImaLog(std::string_view text) {
  std::vector<ImaEntry> entries;
  Status s = ForEachLine(text, nullptr, 0, [&](const LineView& v) {
    ImaEntry e;
    e.line = v.line;
    e.pcr = v.pcr;
    e.violation = v.violation;
    e.file_digest_algo = std::string(v.algo);
    e.file_digest.assign(v.file_digest.begin(), v.file_digest.end());
    e.path = std::string(v.path);
    e.template_sha256 = v.template_sha256;
    entries.push_back(std::move(e));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return entries;
}

Sha256Digest BootAggregate(const BootPcrs& pcrs) {
  Sha256Hasher h;
  for (const Sha256Digest& pcr : pcrs) h.Update(pcr);
  return h.Finish();
}

namespace {

constexpr std::string_view kBootAggregate = "boot_aggregate";

// The boot_aggregate rules (ima_log.h); OK for any other line.
Status CheckBootAggregate(const LineView& v, const BootPcrs* boot_pcrs) {
  auto where = [&v] { return "IMA log line " + std::to_string(v.line) + ": "; };
  bool is_boot = v.path == kBootAggregate;
  if (v.line == 1 && !is_boot && boot_pcrs != nullptr) {
    return PermissionDenied(where() +
                            "the first entry must be boot_aggregate, not " +
                            std::string(v.path.substr(0, 256)));
  }
  if (!is_boot || v.violation) return Status::Ok();  // violations: caller
  if (v.line != 1) {
    return PermissionDenied(where() +
                            "boot_aggregate is accepted only as the first "
                            "entry");
  }
  if (v.algo != "sha256") {
    return PermissionDenied(where() + "boot_aggregate is " +
                            std::string(v.algo) + ":" + ToHex(v.file_digest) +
                            "; only a sha256 boot_aggregate can be checked "
                            "against the quote's SHA-256 PCRs");
  }
  if (boot_pcrs == nullptr) {
    return PermissionDenied(where() +
                            "boot_aggregate cannot be checked: PCRs 0-9 were "
                            "not quoted");
  }
  Sha256Digest expected = BootAggregate(*boot_pcrs);
  if (!std::equal(v.file_digest.begin(), v.file_digest.end(), expected.begin(),
                  expected.end())) {
    return PermissionDenied(where() +
                            "boot_aggregate sha256:" + ToHex(v.file_digest) +
                            " does not match PCRs 0-9 of the quote (expected "
                            "sha256:" +
                            ToHex(expected) + ")");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ImaReplay> ReplayImaLog(std::string_view text,
                                 const ImaAllowlist* allowlist,
                                 const BootPcrs* boot_pcrs) {
  return ReplayImaLogFrom(text, ImaReplay{}, allowlist, boot_pcrs);
}

StatusOr<ImaReplay> ReplayImaLogFrom(std::string_view text,
                                     const ImaReplay& start,
                                     const ImaAllowlist* allowlist,
                                     const BootPcrs* boot_pcrs) {
  ImaReplay replay = start;
  Status s = ForEachLine(
      text, allowlist, start.entries, [&](const LineView& v) -> Status {
        internal::Sha256Small(replay.pcr10, v.template_sha256,
                              replay.pcr10.data());
        ++replay.entries;
        if (allowlist == nullptr) return Status::Ok();
        // Before the allowlist: a listed "boot_aggregate" path must not make a
        // second boot_aggregate (or an unchecked first one) acceptable.
        TVD_RETURN_IF_ERROR(CheckBootAggregate(v, boot_pcrs));
        auto where = [&v] {
          return "IMA log line " + std::to_string(v.line) + ": ";
        };
        if (v.violation) {
          return PermissionDenied(where() + std::string(v.path) +
                                  " is a measurement violation");
        }
        if (v.allowed || v.path == kBootAggregate) return Status::Ok();
        Sha256Digest digest{};
        if (v.algo != "sha256" ||
            (std::copy(v.file_digest.begin(), v.file_digest.end(),
                       digest.begin()),
             !allowlist->Allows(v.path, digest))) {
          return PermissionDenied(
              where() + std::string(v.path) + " with " + std::string(v.algo) +
              ":" + ToHex(v.file_digest) + " is not in the allowlist");
        }
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return replay;
}

ImaLine MakeImaNgLine(std::string_view path, const Sha256Digest& file_digest,
                      bool sha256_column) {
  std::vector<std::uint8_t> data;
  BuildTemplateData("sha256", file_digest, path, data);
  ImaLine out;
  out.template_sha256 = Sha256(data);
  std::string column;
  if (sha256_column) {
    column = ToHex(out.template_sha256);
  } else {
    std::uint8_t sha1[20];
    internal::Sha1Small(data, sha1);
    column = ToHex(sha1);
  }
  out.text = "10 " + column + " ima-ng sha256:" + ToHex(file_digest) + " " +
             std::string(path);
  return out;
}

ImaLine MakeBootAggregateLine(const BootPcrs& pcrs) {
  return MakeImaNgLine(kBootAggregate, BootAggregate(pcrs));
}

}  // namespace tvd::attest
