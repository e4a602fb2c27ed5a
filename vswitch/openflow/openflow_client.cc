#include "tvd/vswitch/openflow/openflow_client.h"

#include <algorithm>
#include <set>
#include <thread>

#include "tvd/log.h"

namespace tvd::vswitch {

using openflow::Message;
using openflow::MsgType;

StatusOr<std::unique_ptr<OpenFlowClient>> OpenFlowClient::Connect(
    Options options) {
  std::unique_ptr<OpenFlowClient> client(
      new OpenFlowClient(std::move(options)));
  TVD_RETURN_IF_ERROR(client->Open());
  return client;
}

std::unique_ptr<OpenFlowClient> OpenFlowClient::Create(Options options) {
  return std::unique_ptr<OpenFlowClient>(
      new OpenFlowClient(std::move(options)));
}

Status OpenFlowClient::Open() {
  stream_.Close();
  TVD_ASSIGN_OR_RETURN(stream_, UnixStream::Connect(options_.socket_path));
  decoder_ = openflow::Decoder();
  auto deadline = Clock::now() + options_.timeout;
  TVD_RETURN_IF_ERROR(
      stream_.WriteAll(openflow::EncodeHello(NextXid()), deadline));
  // The switch's HELLO comes first; version negotiation picks the lower of
  // the two, so a switch whose highest is below 1.3 cannot serve us.
  std::vector<Message> msgs;
  while (msgs.empty()) {
    TVD_ASSIGN_OR_RETURN(std::string bytes, stream_.ReadSome(deadline));
    TVD_RETURN_IF_ERROR(decoder_.Feed(bytes, &msgs));
  }
  if (msgs[0].type != MsgType::kHello) {
    stream_.Close();
    return ProtocolError("switch at " + options_.socket_path +
                         " did not start with HELLO (type " +
                         std::to_string(static_cast<int>(msgs[0].type)) + ")");
  }
  if (msgs[0].version < openflow::kVersion13) {
    stream_.Close();
    return ProtocolError("switch at " + options_.socket_path +
                         " speaks OpenFlow version " +
                         std::to_string(msgs[0].version) + ", need 1.3 (4)");
  }
  return Status::Ok();
}

Status OpenFlowClient::Reconnect() {
  auto deadline = Clock::now() + options_.reconnect_timeout;
  while (true) {
    Status s = Open();
    if (s.ok()) break;
    if (Clock::now() >= deadline || s.code() == ErrorCode::kProtocol) {
      return s.WithContext("reconnecting to " + options_.socket_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ++reconnects_;
  log::Info("reconnected to OpenFlow switch at ", options_.socket_path);
  return Status::Ok();
}

template <typename F>
Status OpenFlowClient::WithRetry(F attempt) {
  if (!stream_.is_open()) TVD_RETURN_IF_ERROR(Reconnect());
  Status s = attempt();
  if (s.code() == ErrorCode::kUnavailable) {
    stream_.Close();
    TVD_RETURN_IF_ERROR(Reconnect());
    s = attempt();
  }
  if (s.code() == ErrorCode::kUnavailable || s.code() == ErrorCode::kProtocol ||
      s.code() == ErrorCode::kTimeout) {
    stream_.Close();
  }
  return s;
}

Status OpenFlowClient::SendBatch(
    const std::vector<std::string>& requests, std::uint32_t first_xid,
    const std::string& what,
    std::vector<openflow::FlowStatsReply::Entry>* stats) {
  auto deadline = Clock::now() + options_.timeout;
  std::uint32_t barrier_xid = NextXid();
  std::string out;
  for (const std::string& r : requests) out += r;
  out += openflow::EncodeBarrierRequest(barrier_xid);
  TVD_RETURN_IF_ERROR(stream_.WriteAll(out, deadline));
  Status first_error;
  while (true) {
    TVD_ASSIGN_OR_RETURN(std::string bytes, stream_.ReadSome(deadline));
    std::vector<Message> msgs;
    TVD_RETURN_IF_ERROR(decoder_.Feed(bytes, &msgs));
    for (const Message& m : msgs) {
      switch (m.type) {
        case MsgType::kEchoRequest:
          TVD_RETURN_IF_ERROR(stream_.WriteAll(
              openflow::EncodeEchoReply(m.xid, m.body), deadline));
          break;
        case MsgType::kError: {
          TVD_ASSIGN_OR_RETURN(openflow::ErrorMsg e,
                               openflow::ParseError(m.body));
          if (first_error.ok()) {
            std::string which = what;
            if (m.xid >= first_xid && m.xid < first_xid + requests.size()) {
              which += " #" + std::to_string(m.xid - first_xid);
            }
            first_error = FailedPrecondition("switch refused " + which + ": " +
                                             openflow::DescribeError(e));
          }
          break;
        }
        case MsgType::kMultipartReply:
          if (stats != nullptr) {
            TVD_ASSIGN_OR_RETURN(openflow::FlowStatsReply reply,
                                 openflow::ParseFlowStatsReply(m.body));
            stats->insert(stats->end(), reply.flows.begin(), reply.flows.end());
          }
          break;
        case MsgType::kBarrierReply:
          if (m.xid == barrier_xid) return first_error;
          break;
        default:
          // PORT_STATUS, PACKET_IN, ...: not ours to act on.
          break;
      }
    }
  }
}

Status OpenFlowClient::AddFlows(const std::vector<openflow::Flow>& flows) {
  return WithRetry([&]() -> Status {
    std::uint32_t first = next_xid_;
    std::vector<std::string> reqs;
    for (const openflow::Flow& f : flows) {
      TVD_ASSIGN_OR_RETURN(std::string msg,
                           openflow::EncodeFlowAdd(f, NextXid()));
      reqs.push_back(std::move(msg));
    }
    return SendBatch(reqs, first, "flow add", nullptr);
  });
}

Status OpenFlowClient::DeleteFlows(std::uint64_t cookie, std::uint64_t mask) {
  return WithRetry([&]() -> Status {
    std::uint32_t xid = NextXid();
    return SendBatch({openflow::EncodeFlowDeleteByCookie(cookie, mask, xid)},
                     xid, "flow delete", nullptr);
  });
}

StatusOr<std::vector<std::uint64_t>> OpenFlowClient::ListCookies(
    std::uint64_t cookie, std::uint64_t mask) {
  std::vector<openflow::FlowStatsReply::Entry> entries;
  Status s = WithRetry([&]() -> Status {
    entries.clear();
    std::uint32_t xid = NextXid();
    return SendBatch({openflow::EncodeFlowStatsRequest(cookie, mask, xid)}, xid,
                     "flow stats request", &entries);
  });
  if (!s.ok()) return s;
  std::set<std::uint64_t> cookies;
  for (const auto& e : entries) cookies.insert(e.cookie);
  return std::vector<std::uint64_t>(cookies.begin(), cookies.end());
}

Status OpenFlowClient::Echo() {
  return WithRetry([&]() -> Status {
    auto deadline = Clock::now() + options_.timeout;
    std::uint32_t xid = NextXid();
    TVD_RETURN_IF_ERROR(
        stream_.WriteAll(openflow::EncodeEchoRequest(xid, "tvd"), deadline));
    while (true) {
      TVD_ASSIGN_OR_RETURN(std::string bytes, stream_.ReadSome(deadline));
      std::vector<Message> msgs;
      TVD_RETURN_IF_ERROR(decoder_.Feed(bytes, &msgs));
      for (const Message& m : msgs) {
        if (m.type == MsgType::kEchoReply && m.xid == xid) {
          if (m.body != "tvd") {
            return ProtocolError("OpenFlow ECHO_REPLY payload differs");
          }
          return Status::Ok();
        }
      }
    }
  });
}

}  // namespace tvd::vswitch
