// Renderings of the sample VDC: text tables, the JSON document, the SVG
// picture (parsed back as XML) and the HTML page; names from the network are
// escaped.
#include "tvd/overview/render.h"

#include <gtest/gtest.h>
#include <tinyxml2.h>

#include <functional>
#include <sstream>

#include "fixtures.h"

namespace tvd::overview {
namespace {

using nlohmann::json;

std::string Text(const Overview& o) {
  std::ostringstream out;
  RenderText(o, out);
  return out.str();
}

TEST(RenderText, SummaryTvdRowsAndHostRows) {
  EXPECT_EQ(
      Text(SampleOverview()),
      "VDC overview at 2023-11-14 22:13:20Z  master: ok  rm-server: ok\n"
      "3 TVDs, 3 hosts (2 up), 4 TVD VMs; free on hosts that are up: 3 vCPUs, "
      "3.0 GiB memory\n"
      "\n"
      "TVD                        ID  EPOCH  HOST                  ATTESTATION "
      "  "
      "           CONNECTED  VMS\n"
      "blue                       1   3      node1                 ok          "
      "  "
      "           yes        web1(running) web2(not running)\n"
      "                                      node2                 FAILED: PCR "
      "16"
      " mismatch  no         -\n"
      "green (unknown to master)  -   -      node2 (not a member)  -           "
      "  "
      "           -          stray(paused)\n"
      "red                        2   1      node2                 FAILED: PCR "
      "16"
      " mismatch  no         db1(running)\n"
      "\n"
      "HOST   STATE  ATTESTATION              TVDS            CPUS  LOAD  FREE "
      "VCPUS  MEMORY FREE/TOTAL  DOMAINS\n"
      "node1  up     ok                       blue            4     0.50  2    "
      " "
      "      3.0 GiB/4.0 GiB    2\n"
      "node2  up     FAILED: PCR 16 mismatch  blue,green,red  2     1.25  1    "
      " "
      "      1.0 GiB/2.0 GiB    2\n"
      "node3  down   -                        -               -     -     -    "
      " "
      "      -                  0\n");
}

TEST(RenderText, SourceErrorsAreListed) {
  FakeMasterSource master;
  FakeRmSource rm;
  rm.snapshot = Timeout("no reply within 5000 ms");
  const std::string text = Text(CollectOverview(master, rm, 0));
  EXPECT_NE(text.find("rm-server: FAILED"), std::string::npos);
  EXPECT_NE(
      text.find("\nerror: fake rm-server: timeout: no reply within 5000 ms\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("no agent"), std::string::npos) << text;
}

TEST(RenderJson, DocumentShape) {
  const json j = RenderJson(SampleOverview());
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["generated_at"], 1700000000);
  EXPECT_EQ(j["sources"]["master"],
            json({{"ok", true}, {"error", nullptr}, {"code", nullptr}}));
  EXPECT_EQ(j["totals"], json({{"tvds", 3},
                               {"hosts", 3},
                               {"hosts_up", 2},
                               {"vms", 4},
                               {"free_vcpus", 3},
                               {"free_mem_kib", 3145728}}));
  ASSERT_EQ(j["tvds"].size(), 3u);
  const json& blue = j["tvds"][0];
  EXPECT_EQ(blue["name"], "blue");
  EXPECT_EQ(blue["epoch"], 3);
  EXPECT_EQ(blue["networks"], json({"blue-data"}));
  EXPECT_EQ(blue["hosts"][0]["vms"][1], json({{"name", "web2"},
                                              {"state", nullptr},
                                              {"reported", true},
                                              {"seen_on_host", false}}));
  EXPECT_EQ(j["tvds"][1]["id"], nullptr);  // green: unknown to the master
  const json& node1 = j["hosts"][0];
  EXPECT_EQ(node1["name"], "node1");
  EXPECT_EQ(node1["resources"]["free_vcpus"], 2);
  EXPECT_EQ(node1["domains"][0],
            json({{"name", "tools"}, {"state", "running"}, {"tvd", ""}}));
  EXPECT_EQ(j["hosts"][2]["resources"], nullptr);
}

// Walks every element of a parsed document.
void ForEach(const tinyxml2::XMLElement* e,
             const std::function<void(const tinyxml2::XMLElement*)>& f) {
  for (; e != nullptr; e = e->NextSiblingElement()) {
    f(e);
    ForEach(e->FirstChildElement(), f);
  }
}

TEST(RenderSvg, HostsAsColumnsTvdsAsBandsWithBoxesPerHost) {
  const std::string svg = RenderSvg(SampleOverview());
  tinyxml2::XMLDocument doc;
  ASSERT_EQ(doc.Parse(svg.c_str(), svg.size()), tinyxml2::XML_SUCCESS)
      << doc.ErrorStr() << "\n"
      << svg;
  ASSERT_STREQ(doc.RootElement()->Name(), "svg");
  std::vector<std::string> hosts, tvds, boxes;
  ForEach(doc.RootElement(), [&](const tinyxml2::XMLElement* e) {
    const char* cls = e->Attribute("class");
    if (cls == nullptr) return;
    if (std::string(cls) == "host") hosts.push_back(e->Attribute("data-host"));
    if (std::string(cls) == "tvd") tvds.push_back(e->Attribute("data-tvd"));
    if (std::string(cls) == "tvd-host") {
      boxes.push_back(std::string(e->Attribute("data-tvd")) + "@" +
                      e->Attribute("data-host"));
    }
    EXPECT_STRNE(e->Name(), "script");
    EXPECT_EQ(e->Attribute("href"), nullptr);
  });
  EXPECT_EQ(hosts, (std::vector<std::string>{"node1", "node2", "node3"}));
  EXPECT_EQ(tvds, (std::vector<std::string>{"blue", "green", "red"}));
  EXPECT_EQ(boxes, (std::vector<std::string>{"blue@node1", "blue@node2",
                                             "green@node2", "red@node2"}));
  EXPECT_NE(svg.find(">web2  not running<"), std::string::npos);
  EXPECT_NE(svg.find(">2 of 4 vCPUs free<"), std::string::npos);
  EXPECT_NE(svg.find(">attestation FAILED<"), std::string::npos);
}

TEST(RenderSvg, EscapesNamesFromTheNetwork) {
  auto rm = DecodeRmSnapshot(json::parse(R"([{"host":"h<1>","up":true,
    "properties":{},"status":null,"domains":[{"name":"a&b","uuid":"u",
    "state":"running","tvd":"<script>x</script>","networks":[]}]}])"));
  ASSERT_TRUE(rm.ok()) << rm.status();
  Overview o = MergeOverview(nullptr, {false, ErrorCode::kUnavailable, "m"},
                             &*rm, {true, ErrorCode::kOk, ""}, 0);
  const std::string svg = RenderSvg(o);
  tinyxml2::XMLDocument doc;
  EXPECT_EQ(doc.Parse(svg.c_str(), svg.size()), tinyxml2::XML_SUCCESS) << svg;
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("h&lt;1&gt;"), std::string::npos);
  const std::string html = RenderHtml(o, 5);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b"), std::string::npos);
}

TEST(RenderHtml, RefreshesItselfAndHoldsPictureAndTables) {
  const std::string html = RenderHtml(SampleOverview(), 5);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n"));
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"5\">"),
            std::string::npos);
  EXPECT_NE(html.find("<svg xmlns=\"http://www.w3.org/2000/svg\" "
                      "id=\"vdc-picture\""),
            std::string::npos);
  EXPECT_NE(html.find("<table id=\"tvds\">"), std::string::npos);
  EXPECT_NE(html.find("<tr data-host=\"node3\"><td>node3</td><td "
                      "class=\"bad\">down</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<p id=\"summary\">3 TVDs, 3 hosts (2 up), 4 TVD VMs"),
            std::string::npos);
  EXPECT_EQ(html.find("id=\"errors\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(RenderHtml(SampleOverview(), 0).find("http-equiv"),
            std::string::npos);
}

TEST(RenderHtml, ShowsSourceErrors) {
  FakeMasterSource master;
  FakeRmSource rm;
  master.tvds = PermissionDenied("peer: admin requests need an admin cert");
  const std::string html = RenderHtml(CollectOverview(master, rm, 0), 5);
  EXPECT_NE(html.find("<div class=\"errors\" id=\"errors\">\n<p "
                      "class=\"bad\">fake master: permission-denied: peer: "
                      "admin requests need an admin cert</p>"),
            std::string::npos)
      << html;
}

TEST(FormatKib, Units) {
  EXPECT_EQ(FormatKib(900), "900 KiB");
  EXPECT_EQ(FormatKib(2048), "2 MiB");
  EXPECT_EQ(FormatKib(1572864), "1.5 GiB");
}

}  // namespace
}  // namespace tvd::overview
