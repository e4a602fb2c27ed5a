#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tvd/rm/node_sources.h"

namespace tvd::rm {
namespace {

TEST(ProcNodeStatus, ReadsLoadAndMemory) {
  std::string tmpl =
      "/tmp/tvd-rm-proc-" + std::to_string(::getpid()) + "-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl.data());
  std::ofstream(dir + "/loadavg") << "1.25 0.50 0.25 1/100 4242\n";
  std::ofstream(dir + "/meminfo") << "MemTotal:       16384 kB\n"
                                     "MemFree:         1024 kB\n"
                                     "MemAvailable:    8192 kB\n";
  ProcNodeStatusSource source(dir);
  StatusOr<NodeStatus> s = source.ReadStatus();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->load1, 1.25);
  EXPECT_EQ(s->mem_total_kib, 16384u);
  EXPECT_EQ(s->mem_free_kib, 8192u);
  EXPECT_GE(s->cpus, 1u);
}

TEST(ProcNodeStatus, MissingFileIsAnError) {
  ProcNodeStatusSource source("/nonexistent-proc");
  EXPECT_EQ(source.ReadStatus().status(),
            IoError("open /nonexistent-proc/loadavg: cannot read"));
}

TEST(TvdMetadata, OwnerAndNetworks) {
  DomainInfo d;
  ASSERT_TRUE(ParseTvdMetadata(
                  R"(<tvd:tvd xmlns:tvd="urn:tvd:vm:1" owner="blue">
                       <tvd:measure type="kernel" sha256="00"/>
                       <tvd:vnet target="v0" network="blue-data"/>
                       <tvd:vnet target="v1" network="blue-mgmt"/>
                     </tvd:tvd>)",
                  d)
                  .ok());
  EXPECT_EQ(d.tvd, "blue");
  EXPECT_EQ(d.networks, (std::vector<std::string>{"blue-data", "blue-mgmt"}));
  EXPECT_EQ(ParseTvdMetadata("<x/>", d),
            InvalidArgument("TVD metadata: root element is not <tvd>"));
  EXPECT_EQ(ParseTvdMetadata("<tvd/>", d),
            InvalidArgument("TVD metadata: <tvd> has no owner"));
}

}  // namespace
}  // namespace tvd::rm
