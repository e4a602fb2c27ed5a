// OvsdbStore on real ovsdb-servers (each test starts its own, in private
// directories and network namespaces, and stops them by PID):
//  - the Store contract on a standalone server, on a 3-server Raft cluster,
//    and on a 3-server cluster one of whose members is killed (kill -9)
//    once the store is open;
//  - the leader killed while a store writes: it carries on through the new
//    leader, and the restarted server catches up; a leader that leaves the
//    cluster is not read from; two masters racing on one AK clock, and two
//    opening an empty store at once; masters replacing each other's rows
//    (found by uuid, or by key when the guess was wrong) lose no write; a
//    write whose answer is lost after it
//    committed is sent again and applied once;
//  - start-up checks, each with its exact error and nothing written: a
//    foreign database, a schema version mismatch, a corrupt store row, a
//    corrupt reply, a wrong KEK, no server at all.
#include "tvd/master/ovsdb_store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tvd/master/kek_check.h"
#include "tvd/testing/ovsdb_cluster.h"
#include "tvd/testing/scripted_unix_server.h"
#include "tvd/testing/store_contract.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"

namespace tvd::testing {
namespace {

using master::OvsdbStore;
using master::OvsdbStoreOptions;
using std::chrono::milliseconds;

const std::string kSchema =
    std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema";

SecureBytes Kek(std::uint8_t fill) {
  SecureBytes k(32);
  std::fill(k.data(), k.data() + 32, fill);
  return k;
}

OvsdbStoreOptions Options(std::vector<std::string> remotes) {
  OvsdbStoreOptions o;
  o.remotes = std::move(remotes);
  o.call_timeout = milliseconds(3000);
  o.failover_timeout = milliseconds(15000);
  return o;
}

class OvsdbContractStore : public ContractStore {
 public:
  // `kill_follower`: once the store is open, one server that is not the
  // leader is killed (kill -9): the suite then runs on the other two.
  static StatusOr<std::unique_ptr<ContractStore>> Make(int servers,
                                                       bool kill_follower) {
    std::unique_ptr<OvsdbContractStore> t(new OvsdbContractStore());
    if (servers == 0) {
      TVD_ASSIGN_OR_RETURN(t->cluster_, OvsdbCluster::StartStandalone(kSchema));
    } else {
      TVD_ASSIGN_OR_RETURN(t->cluster_,
                           OvsdbCluster::StartClustered(kSchema, servers));
    }
    TVD_RETURN_IF_ERROR(t->Reopen());
    if (kill_follower) {
      TVD_ASSIGN_OR_RETURN(int leader, t->cluster_->WaitForLeader());
      TVD_RETURN_IF_ERROR(t->cluster_->Kill((leader + 1) % servers));
    }
    return std::unique_ptr<ContractStore>(std::move(t));
  }
  master::Store& store() override { return *store_; }
  StatusOr<master::StorePtr> OpenAnother() override {
    return master::OpenOvsdbStore(Options(cluster_->remotes()), Kek(7));
  }
  Status Reopen() override {
    store_.reset();
    TVD_ASSIGN_OR_RETURN(
        store_, master::OpenOvsdbStore(Options(cluster_->remotes()), Kek(7)));
    return Status::Ok();
  }

 private:
  std::unique_ptr<OvsdbCluster> cluster_;
  master::StorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(
    Ovsdb, StoreContract,
    ::testing::Values(
        StoreTarget{"standalone",
                    [] { return OvsdbContractStore::Make(0, false); }},
        StoreTarget{"cluster3",
                    [] { return OvsdbContractStore::Make(3, false); }},
        StoreTarget{"cluster3_one_killed",
                    [] { return OvsdbContractStore::Make(3, true); }}),
    StoreTargetName);

// Counts the rows of `table` as server i sees them (ovsdb-client).
StatusOr<std::size_t> CountRows(OvsdbCluster& c, int i,
                                const std::string& table) {
  TVD_ASSIGN_OR_RETURN(
      std::string out,
      c.Transact(i, "[\"TVD_Master\",{\"op\":\"select\",\"table\":\"" + table +
                        "\",\"where\":[]}]"));
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty() ||
      !j[0].contains("rows")) {
    return ProtocolError("unexpected ovsdb-client output: " + out);
  }
  return j[0]["rows"].size();
}

TEST(OvsdbStoreClusterTest,
     LeaderKilledMidRunTheStoreCarriesOnThroughTheOthers) {
  auto cluster = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  OvsdbCluster& c = **cluster;
  auto opened = OvsdbStore::Open(Options(c.remotes()), Kek(7));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  OvsdbStore& s = **opened;
  ASSERT_TRUE(s.PutTvd({"blue", "<p/>", "ab", 1}).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.AddMember("blue", "n" + std::to_string(i)).ok());
  }
  auto leader = c.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  // The store talks to the leader.
  EXPECT_EQ(s.remote(), c.remotes()[static_cast<std::size_t>(*leader)]);
  ASSERT_TRUE(c.Kill(*leader).ok());

  auto t0 = std::chrono::steady_clock::now();
  Status w = s.AddMember("blue", "n5");
  auto failover = std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(w.ok()) << w.ToString();
  std::cout << "write after the leader was killed took " << failover.count()
            << " ms (election and fail-over)\n";
  EXPECT_GE(s.failovers(), 1u);
  EXPECT_NE(s.remote(), c.remotes()[static_cast<std::size_t>(*leader)]);
  for (int i = 6; i < 10; ++i) {
    ASSERT_TRUE(s.AddMember("blue", "n" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(s.SetEpoch("blue", 2).ok());
  ASSERT_TRUE(s.Audit("master", "evict", "blue/n3", true, "").ok());
  auto members = s.Members("blue");
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->size(), 10u);
  EXPECT_EQ((*s.ListTvds())[0].epoch, 2u);

  // The killed server comes back and catches up from the others.
  ASSERT_TRUE(c.Restart(*leader).ok());
  std::size_t seen = 0;
  for (int tries = 0; tries < 250 && seen != 10; ++tries) {
    auto n = CountRows(c, *leader, "Membership");
    if (n.ok()) seen = *n;
    if (seen != 10) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(seen, 10u);
  // And a second master opening now finds everything.
  auto second = OvsdbStore::Open(Options(c.remotes()), Kek(7));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->Members("blue")->size(), 10u);
}

// The leader leaves the cluster but keeps running (it still answers, from
// a copy that no longer changes). A store connected to it notices before
// its next read and reads from the new leader what another master wrote.
TEST(OvsdbStoreClusterTest, ALeaderThatStepsDownIsNotReadFrom) {
  auto cluster = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  OvsdbCluster& c = **cluster;
  auto a = OvsdbStore::Open(Options(c.remotes()), Kek(7));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE((*a)->PutTvd({"blue", "<p/>", "ab", 1}).ok());
  auto leader = c.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_EQ((*a)->remote(), c.remotes()[static_cast<std::size_t>(*leader)]);
  ASSERT_TRUE(c.Appctl(*leader, {"cluster/leave", "TVD_Master"}).ok());
  // Another master, on the remaining two, moves the epoch on.
  std::vector<std::string> others;
  for (int i = 0; i < c.size(); ++i) {
    if (i != *leader)
      others.push_back(c.remotes()[static_cast<std::size_t>(i)]);
  }
  auto b = OvsdbStore::Open(Options(others), Kek(7));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE((*b)->SetEpoch("blue", 2).ok());
  auto tvds = (*a)->ListTvds();
  ASSERT_TRUE(tvds.ok()) << tvds.status().ToString();
  ASSERT_EQ(tvds->size(), 1u);
  EXPECT_EQ((*tvds)[0].epoch, 2u);
  EXPECT_GE((*a)->failovers(), 1u);
  EXPECT_NE((*a)->remote(), c.remotes()[static_cast<std::size_t>(*leader)]);
}

// Two masters on one cluster verify quotes of the same AK at once and both
// record its clock: each reads the stored clock and replaces it only under
// a wait that the row is unchanged, so the later clock survives whoever
// commits last. The races the two lost (a failed wait, an insert beaten)
// are counted and printed.
TEST(OvsdbStoreClusterTest, TwoMastersRacingOnOneAkClockKeepTheLatest) {
  auto cluster = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto a = OvsdbStore::Open(Options((*cluster)->remotes()), Kek(7));
  auto b = OvsdbStore::Open(Options((*cluster)->remotes()), Kek(7));
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kRounds = 60;
  const std::vector<std::uint8_t> ak{0xa1};
  auto writer = [&](OvsdbStore& s, int parity, Status* failed) {
    for (int i = 0; i < kRounds; ++i) {
      // Reset count 1 for every write of the last ten rounds of `a`: the
      // final clock is a's (1, 0, 2*(kRounds-1)) whatever the order.
      std::uint32_t reset = parity == 0 && i >= kRounds - 10 ? 1 : 0;
      Status st = s.PutAkClock(
          {ak, static_cast<std::uint64_t>(2 * i + parity), reset, 0});
      if (!st.ok() && failed->ok()) *failed = st;
    }
  };
  Status fa, fb;
  std::thread ta(writer, std::ref(**a), 0, &fa);
  std::thread tb(writer, std::ref(**b), 1, &fb);
  ta.join();
  tb.join();
  ASSERT_TRUE(fa.ok()) << fa.ToString();
  ASSERT_TRUE(fb.ok()) << fb.ToString();
  std::cout << "conditional writes retried after losing a race: "
            << (*a)->races() + (*b)->races() << "\n";
  for (OvsdbStore* s : {a->get(), b->get()}) {
    auto clocks = s->ListAkClocks();
    ASSERT_TRUE(clocks.ok());
    ASSERT_EQ(clocks->size(), 1u);
    EXPECT_EQ((*clocks)[0].reset_count, 1u);
    EXPECT_EQ((*clocks)[0].clock,
              static_cast<std::uint64_t>(2 * (kRounds - 1)));
  }
}

// Each master finds the rows it wrote before by their uuid (the server
// scans a table for any other where clause). A guess that is wrong, a row
// another master wrote (taken to be absent) or replaced (a uuid no longer
// there), costs a second sending and loses nothing: every write lands,
// and every host keeps one row with the last value written.
TEST(OvsdbStoreClusterTest, MastersReplacingEachOthersRowsLoseNoWrite) {
  auto cluster = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto a = OvsdbStore::Open(Options((*cluster)->remotes()), Kek(7));
  auto b = OvsdbStore::Open(Options((*cluster)->remotes()), Kek(7));
  ASSERT_TRUE(a.ok() && b.ok());
  auto underlay_of = [&](const std::string& host) -> std::string {
    auto hosts = (*a)->ListHosts();
    EXPECT_TRUE(hosts.ok());
    std::string found = "none";
    int rows = 0;
    for (const auto& h : *hosts) {
      if (h.name != host) continue;
      found = h.underlay;
      ++rows;
    }
    EXPECT_EQ(rows, found == "none" ? 0 : 1);
    return found;
  };
  ASSERT_TRUE((*a)->UpsertHost("node1", "198.18.0.1").ok());
  // b never saw node1's row: it takes it to be absent, the insert breaks
  // the index, and the write goes again by key.
  ASSERT_TRUE((*b)->UpsertHost("node1", "198.18.0.2").ok());
  EXPECT_EQ(underlay_of("node1"), "198.18.0.2");
  // a's uuid is gone (b replaced the row): again by key.
  ASSERT_TRUE((*a)->UpsertHost("node1", "198.18.0.3").ok());
  EXPECT_EQ(underlay_of("node1"), "198.18.0.3");
  // A master opened now reads where the rows are.
  auto c = OvsdbStore::Open(Options((*cluster)->remotes()), Kek(7));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->UpsertHost("node1", "198.18.0.4").ok());
  ASSERT_TRUE((*c)->AddMember("blue", "node1").ok());
  ASSERT_TRUE((*b)->AddMember("blue", "node1").ok());
  EXPECT_EQ(underlay_of("node1"), "198.18.0.4");
  EXPECT_EQ((*a)->Members("blue").value(), std::vector<std::string>{"node1"});
  // Both at once, on the same rows, many times.
  constexpr int kRounds = 40;
  auto writer = [&](OvsdbStore& s, const std::string& tag, Status* failed) {
    for (int i = 0; i < kRounds; ++i) {
      for (const char* host : {"node1", "node2", "node3"}) {
        Status st = s.UpsertHost(host, tag + std::to_string(i));
        if (st.ok()) st = s.SetAttestation(host, i % 2 == 0, tag);
        if (!st.ok() && failed->ok()) *failed = st;
      }
    }
  };
  Status fa, fb;
  std::thread ta(writer, std::ref(**a), "a", &fa);
  std::thread tb(writer, std::ref(**b), "b", &fb);
  ta.join();
  tb.join();
  ASSERT_TRUE(fa.ok()) << fa.ToString();
  ASSERT_TRUE(fb.ok()) << fb.ToString();
  for (const char* host : {"node1", "node2", "node3"}) {
    std::string last = underlay_of(host);
    EXPECT_TRUE(last == "a" + std::to_string(kRounds - 1) ||
                last == "b" + std::to_string(kRounds - 1))
        << host << ": " << last;
  }
  ASSERT_TRUE((*a)->UpsertHost("node2", "final").ok());
  EXPECT_EQ(underlay_of("node2"), "final");
}

// Two masters open an empty store at the same moment: one creates its
// identity, the other finds it (and the same KEK passes); a third with
// another KEK is refused.
TEST(OvsdbStoreClusterTest, TwoFirstMastersCreateOneIdentity) {
  auto cluster = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto remotes = (*cluster)->remotes();
  StatusOr<std::unique_ptr<OvsdbStore>> opened[2] = {Unavailable("-"),
                                                     Unavailable("-")};
  std::thread ta(
      [&] { opened[0] = OvsdbStore::Open(Options(remotes), Kek(7)); });
  std::thread tb(
      [&] { opened[1] = OvsdbStore::Open(Options(remotes), Kek(7)); });
  ta.join();
  tb.join();
  ASSERT_TRUE(opened[0].ok()) << opened[0].status().ToString();
  ASSERT_TRUE(opened[1].ok()) << opened[1].status().ToString();
  auto rows = CountRows(**cluster, 0, "Store_Identity");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, 1u);
  EXPECT_EQ(OvsdbStore::Open(Options(remotes), Kek(9)).status().code(),
            ErrorCode::kFailedPrecondition);
}

// Relays one client to the ovsdb-server at `server` until the client sends
// a transaction that inserts into `table`: that one reaches the server (and
// commits), its answer is swallowed, and both connections are closed. The
// client sees its connection lost with the outcome unknown.
void RelayAndLoseTheAnswerTo(int client, const std::string& server,
                             const std::string& table) {
  int up = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", server.c_str());
  ASSERT_EQ(::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  vswitch::JsonRpcDecoder from_client;
  bool lose_next_answer = false;
  char buf[65536];
  while (true) {
    pollfd p[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
    if (::poll(p, 2, 10000) <= 0) break;
    if (p[0].revents != 0) {
      ssize_t n = ::recv(client, buf, sizeof(buf), 0);
      if (n <= 0) break;
      std::string bytes(buf, static_cast<std::size_t>(n));
      std::vector<vswitch::JsonRpcMessage> msgs;
      ASSERT_TRUE(from_client.Feed(bytes, &msgs).ok());
      for (const auto& m : msgs) {
        if (m.method == "transact" &&
            m.params.dump().find("\"insert\",\"row\"") != std::string::npos &&
            m.params.dump().find("\"table\":\"" + table + "\"") !=
                std::string::npos) {
          lose_next_answer = true;
        }
      }
      ScriptedUnixServer::Write(up, bytes);
    }
    if (p[1].revents != 0) {
      ssize_t n = ::recv(up, buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (lose_next_answer) break;  // committed; the client never hears
      ScriptedUnixServer::Write(client,
                                std::string(buf, static_cast<std::size_t>(n)));
    }
  }
  ::close(up);
}

// The answer to an audit write is lost after the server committed it: the
// store fails over to another remote and sends it again, and the row's
// token shows it is already there, so the audit has it once.
TEST(OvsdbStoreFailoverTest, AWriteWhoseAnswerIsLostIsAppliedOnce) {
  auto c = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string socket = (*c)->socket(0);
  ScriptedUnixServer relay("lossy-ovsdb", [&](int fd) {
    RelayAndLoseTheAnswerTo(fd, socket, "Audit");
  });
  auto s = OvsdbStore::Open(Options({"unix:" + relay.path(), "unix:" + socket}),
                            Kek(7));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ((*s)->remote(), "unix:" + relay.path());
  ASSERT_TRUE((*s)->Audit("admin:alice", "tvd-add", "blue", true, "").ok());
  EXPECT_EQ((*s)->remote(), "unix:" + socket);
  EXPECT_GE((*s)->failovers(), 1u);
  auto audit = (*s)->RecentAudit(10);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].id, 1);
  EXPECT_EQ((*audit)[0].subject, "blue");
  // The next rows follow on.
  ASSERT_TRUE((*s)->Audit("admin:alice", "tvd-remove", "blue", true, "").ok());
  EXPECT_EQ((*s)->RecentAudit(10)->size(), 2u);
  EXPECT_EQ((*s)->RecentAudit(10)->at(0).id, 2);
}

// OVSDB strings are UTF-8: a value that is not is refused, not altered
// (audit text excepted: the record is kept with U+FFFD).
TEST(OvsdbStoreFailoverTest, InvalidUtf8IsRefusedAndNothingWritten) {
  auto c = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string remote = (*c)->remotes()[0];
  auto s = OvsdbStore::Open(Options({remote}), Kek(7));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Status expected = InvalidArgument(
      "state store TVD_Master at " + remote +
      ": a value is not valid UTF-8 (OVSDB strings are UTF-8); nothing "
      "written");
  EXPECT_EQ((*s)->PutTvd({"blue", "<p>\xff</p>", "ab", 1}), expected);
  EXPECT_EQ((*s)->Members("bl\xffue").status(), expected);
  EXPECT_TRUE((*s)->ListTvds()->empty());
  // An audit row is kept, with U+FFFD for the invalid bytes.
  ASSERT_TRUE((*s)->Audit("host:n1", "join", "blue", false, "bad \xc3").ok());
  auto audit = (*s)->RecentAudit(10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].reason, "bad \xef\xbf\xbd");
}

// Every server gone: a write fails once the fail-over time is up, with
// the reason, and the store works again when a server is back.
TEST(OvsdbStoreFailoverTest, NoServerLeftFailsAWriteWithinTheFailoverTime) {
  auto c = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string remote = (*c)->remotes()[0];
  OvsdbStoreOptions o = Options({remote});
  o.failover_timeout = milliseconds(300);
  auto s = OvsdbStore::Open(o, Kek(7));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*c)->Kill(0).ok());
  auto t0 = std::chrono::steady_clock::now();
  Status w = (*s)->PutTvd({"blue", "<p/>", "ab", 1});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(
      w, IoError("state store TVD_Master at " + remote +
                 ": no transaction completed within 300 ms: no OVSDB "
                 "leader for TVD_Master among " +
                 remote + " within 300 ms (" + remote + ": cannot connect to " +
                 (*c)->socket(0) + ": Connection refused)"));
  EXPECT_LT(took, milliseconds(2000));
  ASSERT_TRUE((*c)->Restart(0).ok());
  EXPECT_TRUE((*s)->PutTvd({"blue", "<p/>", "ab", 1}).ok());
  EXPECT_EQ((*s)->ListTvds()->size(), 1u);
}

// --- Start-up checks ------------------------------------------------------

std::string Identity(OvsdbCluster& c) {
  auto out = c.Transact(0,
                        "[\"TVD_Master\",{\"op\":\"select\",\"table\":"
                        "\"Store_Identity\",\"where\":[],\"columns\":["
                        "\"kek_check\",\"audit_seq\"]}]");
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : "";
}

TEST(OvsdbStoreStartupTest, AForeignDatabaseIsRefused) {
  auto c =
      OvsdbCluster::StartStandalone("/usr/share/openvswitch/vswitch.ovsschema");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string remote = (*c)->remotes()[0];
  auto s = OvsdbStore::Open(Options({remote}), Kek(7));
  EXPECT_EQ(s.status(),
            FailedPrecondition("OVSDB " + remote +
                               " serves no TVD_Master database (it serves: "
                               "Open_vSwitch, _Server)"));
}

TEST(OvsdbStoreStartupTest, ASchemaVersionMismatchIsRefusedAndNothingWritten) {
  char tmpl[] = "/tmp/tvd-schema-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ifstream in(kSchema);
  std::stringstream text;
  text << in.rdbuf();
  auto schema = nlohmann::json::parse(text.str());
  schema["version"] = "0.9.0";
  std::ofstream(dir + "/old.ovsschema") << schema.dump();
  auto c = OvsdbCluster::StartStandalone(dir + "/old.ovsschema");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string remote = (*c)->remotes()[0];
  auto s = OvsdbStore::Open(Options({remote}), Kek(7));
  EXPECT_EQ(s.status(),
            FailedPrecondition("OVSDB " + remote +
                               ": TVD_Master schema version 0.9.0, this "
                               "master needs " +
                               std::string(master::kTvdMasterSchemaVersion)));
  EXPECT_EQ(Identity(**c), "[{\"rows\":[]}]\n");
}

TEST(OvsdbStoreStartupTest, AReplicaWithAnotherKekIsRefusedAndNothingWritten) {
  auto c = OvsdbCluster::StartClustered(kSchema, 3);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto remotes = (*c)->remotes();
  {
    auto first = OvsdbStore::Open(Options(remotes), Kek(7));
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_TRUE((*first)->Audit("master", "start", "", true, "").ok());
  }
  std::string before = Identity(**c);
  EXPECT_NE(before.find(*master::KekCheckValue(Kek(7))), std::string::npos);
  EXPECT_EQ(before.find("0000000000"), std::string::npos);  // never the KEK
  auto other = OvsdbStore::Open(Options(remotes), Kek(8));
  EXPECT_EQ(other.status(),
            FailedPrecondition(
                "state store TVD_Master at " + remotes[0] + ", " + remotes[1] +
                ", " + remotes[2] +
                " was created with another KEK (check value differs): this "
                "master's KEK cannot unwrap its disk keys"));
  EXPECT_EQ(Identity(**c), before);
  // The right KEK still opens it, from any replica.
  auto again =
      OvsdbStore::Open(Options({remotes[2], remotes[1], remotes[0]}), Kek(7));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST(OvsdbStoreStartupTest, ACorruptStoreRowIsRefusedAndNothingWritten) {
  auto c = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string remote = (*c)->remotes()[0];
  ASSERT_TRUE((*c)->Transact(0,
                             "[\"TVD_Master\",{\"op\":\"insert\",\"table\":"
                             "\"Store_Identity\",\"row\":{\"kek_check\":\"" +
                                 std::string(64, 'z') + "\",\"audit_seq\":0}}]")
                  .ok());
  std::string before = Identity(**c);
  auto s = OvsdbStore::Open(Options({remote}), Kek(7));
  EXPECT_EQ(s.status(),
            ProtocolError("state store TVD_Master at " + remote +
                          ": corrupt store: OVSDB Store_Identity row: column "
                          "'kek_check' is not 64 hex digits"));
  EXPECT_EQ(Identity(**c), before);
}

// A server that answers list_dbs with something that is not a list.
TEST(OvsdbStoreStartupTest, ACorruptReplyIsRefused) {
  ScriptedUnixServer server("corrupt-ovsdb", [](int fd) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    auto req = nlohmann::json::parse(
        std::string(buf, static_cast<std::size_t>(n)), nullptr, false);
    if (req.is_discarded()) return;
    nlohmann::json reply = {
        {"id", req["id"]}, {"result", "TVD_Master"}, {"error", nullptr}};
    ScriptedUnixServer::Write(fd, reply.dump());
    // Wait for the client to hang up.
    (void)::recv(fd, buf, sizeof(buf), 0);
  });
  std::string remote = "unix:" + server.path();
  auto s = OvsdbStore::Open(Options({remote}), Kek(7));
  EXPECT_EQ(s.status(),
            ProtocolError("OVSDB " + remote +
                          ": corrupt reply: list_dbs result is not an array"));
}

TEST(OvsdbStoreStartupTest, ATcpRemoteServesTheStoreAsTheUnixSocketDoes) {
  auto c = OvsdbCluster::StartStandalone(kSchema);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*c)->tcp_remote().starts_with("tcp:127.0.0.1:"));
  auto tcp = OvsdbStore::Open(Options({(*c)->tcp_remote()}), Kek(7));
  ASSERT_TRUE(tcp.ok()) << tcp.status().ToString();
  ASSERT_TRUE((*tcp)->PutTvd({"blue", "<p/>", "ab", 4}).ok());
  auto unix_store = OvsdbStore::Open(Options((*c)->remotes()), Kek(7));
  ASSERT_TRUE(unix_store.ok()) << unix_store.status().ToString();
  auto tvds = (*unix_store)->ListTvds();
  ASSERT_TRUE(tvds.ok());
  ASSERT_EQ(tvds->size(), 1u);
  EXPECT_EQ((*tvds)[0].epoch, 4u);
}

TEST(OvsdbStoreStartupTest, NoServerIsUnavailableNamingEachRemote) {
  OvsdbStoreOptions o = Options({"unix:/nonexistent/tvd-a.sock"});
  o.failover_timeout = milliseconds(200);
  auto s = OvsdbStore::Open(o, Kek(7));
  EXPECT_EQ(s.status(),
            Unavailable("no OVSDB leader for TVD_Master among "
                        "unix:/nonexistent/tvd-a.sock within 200 ms "
                        "(unix:/nonexistent/tvd-a.sock: cannot connect to "
                        "/nonexistent/tvd-a.sock: No such file or directory)"));
}

}  // namespace
}  // namespace tvd::testing
