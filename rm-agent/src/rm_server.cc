#include "tvd/rm/rm_server.h"

#include <vector>

#include "tvd/log.h"

namespace tvd::rm {

namespace {

constexpr const char* kAgentDomain = "rm-agent";
constexpr const char* kQueryDomain = "rm-query";

std::string LastEndpoint(zmq::socket_t& s) {
  return s.get(zmq::sockopt::last_endpoint);
}

// Receives every frame of one message (non-blocking; empty on EAGAIN).
std::vector<zmq::message_t> ReceiveAll(zmq::socket_t& s) {
  std::vector<zmq::message_t> frames;
  while (true) {
    zmq::message_t m;
    auto got = s.recv(m, zmq::recv_flags::dontwait);
    if (!got) break;
    bool more = m.more();
    frames.push_back(std::move(m));
    if (!more) break;
  }
  return frames;
}

std::string UserId(zmq::message_t& m) {
  const char* v = zmq_msg_gets(m.handle(), "User-Id");
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

void ConfigureCurveServer(zmq::socket_t& socket, const CurveKeyPair& keys,
                          const char* zap_domain) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey,
             zmq::const_buffer(keys.secret.data(), keys.secret.size()));
  socket.set(zmq::sockopt::zap_domain, zap_domain);
  socket.set(zmq::sockopt::maxmsgsize,
             static_cast<std::int64_t>(kMaxMessageBytes));
  socket.set(zmq::sockopt::linger, 0);
}

Status ConfigureCurveClient(zmq::socket_t& socket, const CurveKeyPair& keys,
                            const std::string& server_public_z85) {
  TVD_ASSIGN_OR_RETURN(SecureBytes server_key, KeyFromZ85(server_public_z85));
  TVD_ASSIGN_OR_RETURN(SecureBytes public_key, KeyFromZ85(keys.public_z85));
  socket.set(zmq::sockopt::curve_serverkey,
             zmq::const_buffer(server_key.data(), server_key.size()));
  socket.set(zmq::sockopt::curve_publickey,
             zmq::const_buffer(public_key.data(), public_key.size()));
  socket.set(zmq::sockopt::curve_secretkey,
             zmq::const_buffer(keys.secret.data(), keys.secret.size()));
  return Status::Ok();
}

RmServer::RmServer(RmServerConfig config)
    : config_(std::move(config)),
      context_(1),
      zap_(context_, zmq::socket_type::rep),
      agents_(context_, zmq::socket_type::router),
      queries_(context_, zmq::socket_type::router),
      registry_(config_.liveness) {}

RmServer::~RmServer() = default;

StatusOr<std::unique_ptr<RmServer>> RmServer::Create(RmServerConfig config) {
  if (config.server_keys.secret.size() != kCurveKeyBytes) {
    return InvalidArgument("rm-server: no server secret key");
  }
  std::unique_ptr<RmServer> server(new RmServer(std::move(config)));
  try {
    server->zap_.set(zmq::sockopt::linger, 0);
    server->zap_.bind("inproc://zeromq.zap.01");
    ConfigureCurveServer(server->agents_, server->config_.server_keys,
                         kAgentDomain);
    ConfigureCurveServer(server->queries_, server->config_.server_keys,
                         kQueryDomain);
    try {
      server->agents_.bind(server->config_.agent_endpoint);
    } catch (const zmq::error_t& e) {
      return IoError("rm-server: bind agent endpoint '" +
                     server->config_.agent_endpoint + "': " + e.what());
    }
    try {
      server->queries_.bind(server->config_.query_endpoint);
    } catch (const zmq::error_t& e) {
      return IoError("rm-server: bind query endpoint '" +
                     server->config_.query_endpoint + "': " + e.what());
    }
  } catch (const zmq::error_t& e) {
    return IoError(std::string("rm-server: set-up: ") + e.what());
  }
  server->agent_endpoint_ = LastEndpoint(server->agents_);
  server->query_endpoint_ = LastEndpoint(server->queries_);
  return server;
}

Status RmServer::Run() {
  log::Info("serving agents on ", agent_endpoint_, ", queries on ",
            query_endpoint_, " (", config_.agents.size(), " agent keys, ",
            config_.admins.size(), " admin keys)");
  auto next_sweep = Clock::now() + config_.tick;
  while (!stop_.load(std::memory_order_relaxed)) {
    zmq::pollitem_t items[] = {
        {zap_.handle(), 0, ZMQ_POLLIN, 0},
        {agents_.handle(), 0, ZMQ_POLLIN, 0},
        {queries_.handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, 3, config_.tick);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return IoError(std::string("rm-server: poll: ") + e.what());
    }
    // Bounded batches keep queries answered while agents flood the server.
    if (items[0].revents & ZMQ_POLLIN) HandleZap();
    for (int i = 0; i < 256 && (items[1].revents & ZMQ_POLLIN); ++i) {
      if (!(agents_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      HandleAgentFrame();
      // A waiting admin should not sit behind a whole batch of reports.
      if (i % 32 == 31 && (queries_.get(zmq::sockopt::events) & ZMQ_POLLIN)) {
        HandleQueryFrame();
      }
    }
    for (int i = 0; i < 64 && (items[2].revents & ZMQ_POLLIN); ++i) {
      if (!(queries_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      HandleQueryFrame();
    }
    const auto now = Clock::now();
    if (now >= next_sweep) {
      next_sweep = now + config_.tick;
      AgentRegistry::SweepResult swept = registry_.Sweep(now);
      for (const std::string& h : swept.went_down) {
        log::Warning("agent '", h, "' missed its heartbeats: marked down");
      }
      for (const std::string& h : swept.expired) {
        log::Warning("agent '", h, "' expired: removed");
      }
    }
  }
  log::Info("stopping (", registry_.size(), " agents registered)");
  return Status::Ok();
}

void RmServer::HandleZap() {
  std::vector<zmq::message_t> f = ReceiveAll(zap_);
  if (f.size() < 6) return;  // not from libzmq; REP needs no reply then
  const std::string request_id = f[1].to_string();
  const std::string domain = f[2].to_string();
  const std::string address = f[3].to_string();
  const std::string mechanism = f[5].to_string();
  std::string status_code = "400";
  std::string status_text = "refused";
  std::string user_id;
  std::string key_z85 = "(none)";
  if (mechanism == "CURVE" && f.size() >= 7 && f[6].size() == kCurveKeyBytes) {
    key_z85 = Z85FromKey(static_cast<const std::uint8_t*>(f[6].data()));
    const AllowList* list = domain == kAgentDomain   ? &config_.agents
                            : domain == kQueryDomain ? &config_.admins
                                                     : nullptr;
    if (list != nullptr) {
      if (auto it = list->find(key_z85); it != list->end()) {
        status_code = "200";
        status_text = "OK";
        user_id = it->second;
      }
    }
  }
  if (status_code != "200") {
    stats_.refused_keys.fetch_add(1, std::memory_order_relaxed);
    log::Warning("refused ", mechanism, " client key ", key_z85, " from ",
                 address, " on ", domain, ": not in the allow-list");
  } else {
    log::Debug("accepted ", user_id, " (", key_z85, ") on ", domain);
  }
  const std::string reply[] = {"1.0",       request_id, status_code,
                               status_text, user_id,    ""};
  for (std::size_t i = 0; i < 6; ++i) {
    zap_.send(zmq::buffer(reply[i]),
              i + 1 < 6 ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

void RmServer::HandleAgentFrame() {
  std::vector<zmq::message_t> f = ReceiveAll(agents_);
  if (f.size() != 2) {
    if (!f.empty()) {
      stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
      log::Warning("agent message with ", f.size() - 1,
                   " payload frames dropped (expected one)");
    }
    return;
  }
  const std::string host = UserId(f[1]);
  if (host.empty()) {
    stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  StatusOr<AgentMessage> msg = DecodeAgentMessage(f[1].to_string_view());
  if (!msg.ok()) {
    stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
    log::Warning("agent '", host, "': ", msg.status().message());
    return;
  }
  StatusOr<ApplyResult> applied = registry_.Apply(host, *msg, Clock::now());
  if (!applied.ok()) {
    stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
    log::Warning("agent '", host, "': ", applied.status().message());
    return;
  }
  if (*applied == ApplyResult::kNotRegistered) {
    const std::string notice = EncodeReregisterNotice();
    agents_.send(f[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    agents_.send(zmq::buffer(notice), zmq::send_flags::dontwait);
    return;
  }
  stats_.agent_messages.fetch_add(1, std::memory_order_relaxed);
  if (std::holds_alternative<RegisterMsg>(*msg)) {
    log::Info("agent '", host, "' registered");
  } else if (std::holds_alternative<UnregisterMsg>(*msg)) {
    log::Info("agent '", host, "' unregistered");
  }
}

void RmServer::HandleQueryFrame() {
  std::vector<zmq::message_t> f = ReceiveAll(queries_);
  // DEALER: [id][payload]; REQ: [id][empty][payload].
  if (f.size() < 2 || f.size() > 3 || (f.size() == 3 && f[1].size() != 0)) {
    stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  zmq::message_t& payload = f.back();
  const std::string admin = UserId(payload);
  StatusOr<nlohmann::json> result = Internal("unset");
  StatusOr<QueryRequest> request = DecodeQueryRequest(payload.to_string_view());
  if (!request.ok()) {
    stats_.rejected_messages.fetch_add(1, std::memory_order_relaxed);
    log::Warning("query from '", admin, "': ", request.status().message());
    result = request.status();
  } else {
    stats_.queries.fetch_add(1, std::memory_order_relaxed);
    result = registry_.Query(*request, Clock::now());
  }
  const std::string reply = EncodeQueryReply(result);
  const bool has_delimiter = f.size() == 3;
  queries_.send(f[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  if (has_delimiter) {
    queries_.send(zmq::message_t(),
                  zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  }
  queries_.send(zmq::buffer(reply), zmq::send_flags::dontwait);
}

}  // namespace tvd::rm
