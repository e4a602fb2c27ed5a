#include "tvd/daemon/flags.h"

#include <gtest/gtest.h>

#include "tvd/testing/files.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::daemon {
namespace {

using std::chrono::milliseconds;

// A daemon's worth of flags of every type.
struct Options {
  std::string name;
  std::string ca;
  int count = 5;
  milliseconds interval{1000};
  Endpoint listen{"127.0.0.1", 8480};
  bool open = false;
  std::vector<std::string> hosts;
};

class FlagsTest : public ::testing::Test {
 protected:
  FlagsTest() : flags_("demo", "a demonstration") {
    flags_.String("name", &o_.name, "a name");
    flags_.Path("ca", &o_.ca, "the CA", /*absolute=*/true).Required();
    flags_.Integer("count", &o_.count, 1, 10, "how many").Default("5");
    flags_.Duration("interval", &o_.interval, DurationUnit::kSeconds,
                    milliseconds(1), milliseconds(60000), "how often");
    flags_
        .Endpoint("listen", &o_.listen, {.allow_port_zero = true},
                  "where to listen")
        .Default("127.0.0.1:8480");
    flags_.Bool("open", &o_.open, "serve others");
    flags_.Repeated("host", &o_.hosts, "a host");
    flags_.ConfigFile("config", "a file of these keys");
  }

  Status Parse(const std::vector<std::string>& args) {
    StatusOr<ParseOutcome> r = flags_.Parse(args);
    if (!r.ok()) return r.status();
    EXPECT_EQ(*r, ParseOutcome::kRun);
    return Status::Ok();
  }

  Options o_;
  FlagSet flags_;
};

TEST_F(FlagsTest, BothFormsEveryType) {
  ASSERT_EQ(
      Parse({"--name", "n", "--ca=/ca.pem", "--count", "7", "--interval=30s",
             "--listen", "[::1]:0", "--open", "--host=a", "--host", "b"}),
      Status::Ok());
  EXPECT_EQ(o_.name, "n");
  EXPECT_EQ(o_.ca, "/ca.pem");
  EXPECT_EQ(o_.count, 7);
  EXPECT_EQ(o_.interval, milliseconds(30000));
  EXPECT_EQ(o_.listen, (Endpoint{"::1", 0}));
  EXPECT_TRUE(o_.open);
  EXPECT_EQ(o_.hosts, (std::vector<std::string>{"a", "b"}));
}

TEST_F(FlagsTest, DefaultsStayWhenNotGiven) {
  ASSERT_EQ(Parse({"--ca", "/ca.pem", "--open=false"}), Status::Ok());
  EXPECT_EQ(o_.count, 5);
  EXPECT_EQ(o_.listen, (Endpoint{"127.0.0.1", 8480}));
  EXPECT_FALSE(o_.open);
  EXPECT_EQ(o_.name, "");
}

TEST_F(FlagsTest, HelpWins) {
  EXPECT_EQ(*flags_.Parse({"--help"}), ParseOutcome::kHelp);
  EXPECT_EQ(*flags_.Parse({"-h", "--bogus"}), ParseOutcome::kHelp);
}

TEST_F(FlagsTest, ExactErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus=1"}, "unknown option '--bogus'"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--"}, "unexpected argument '--'"},
      {{"--ca=/c", "--name"}, "--name needs a value"},
      {{"--ca", "--name", "x"}, "--ca needs a value"},
      {{"--name", "x"}, "--ca is required"},
      {{"--ca=/c", "--ca=/d"}, "--ca given twice"},
      {{"--ca=rel"}, "--ca: 'rel' is not an absolute path"},
      {{"--ca="}, "--ca: an empty path"},
      {{"--ca=/c", "--count=0"}, "--count: '0' is not a number in 1..10"},
      {{"--ca=/c", "--interval=1d"},
       "--interval: '1d' is not a duration (digits then ms, s, m or h)"},
      {{"--ca=/c", "--listen=localhost:1"},
       "--listen: 'localhost:1' does not start with an IP address"},
      {{"--ca=/c", "--open=maybe"}, "--open: 'maybe' is not true or false"},
  };
  for (const auto& [args, message] : cases) {
    Options fresh;
    FlagSet flags("demo");
    flags.String("name", &fresh.name, "");
    flags.Path("ca", &fresh.ca, "", true).Required();
    flags.Integer("count", &fresh.count, 1, 10, "");
    flags.Duration("interval", &fresh.interval, DurationUnit::kSeconds,
                   milliseconds(1), milliseconds(60000), "");
    flags.Endpoint("listen", &fresh.listen, {}, "");
    flags.Bool("open", &fresh.open, "");
    EXPECT_EQ(flags.Parse(args).status(), InvalidArgument(message)) << args[0];
  }
}

TEST_F(FlagsTest, ConfigFileWithCommandLineWinning) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/demo.conf";
  testing::WriteTestFile(file,
                         "# demo\n\n  count = 3 \nname = from-file\n"
                         "ca = /file-ca.pem\nhost = a\nhost = b\n",
                         0644);
  // The flag before the file still wins.
  ASSERT_EQ(Parse({"--name=cli", "--config", file}), Status::Ok());
  EXPECT_EQ(o_.name, "cli");
  EXPECT_EQ(o_.count, 3);
  EXPECT_EQ(o_.ca, "/file-ca.pem");
  EXPECT_EQ(o_.hosts, (std::vector<std::string>{"a", "b"}));
}

TEST_F(FlagsTest, ConfigFileErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"count 3\n", "f.conf:1: expected 'key = value'"},
      {"\ncolour = red\n", "f.conf:2: unknown key 'colour'"},
      {"config = /x\n", "f.conf:1: unknown key 'config'"},
      {"count = 3\ncount = 4\n", "f.conf:2: key 'count' given twice"},
      {"count = 11\n",
       "f.conf:1: key 'count': '11' is not a number in "
       "1..10"},
  };
  for (const auto& [text, message] : cases) {
    Options fresh;
    FlagSet flags("demo");
    flags.Integer("count", &fresh.count, 1, 10, "");
    flags.ConfigFile("config", "");
    EXPECT_EQ(flags.ParseConfigText(text, "f.conf"), InvalidArgument(message))
        << text;
  }
  EXPECT_EQ(flags_.Parse({"--config=/nonexistent/demo.conf"}).status(),
            IoError("config /nonexistent/demo.conf cannot be read"));
}

TEST_F(FlagsTest, UsageListsEveryFlag) {
  EXPECT_EQ(flags_.Usage(),
            "usage: demo [options]\n"
            "a demonstration\n"
            "  --name TEXT\n      a name\n"
            "  --ca PATH\n      the CA (required)\n"
            "  --count N\n      how many (default 5)\n"
            "  --interval DURATION\n      how often\n"
            "  --listen ADDRESS:PORT\n      where to listen (default "
            "127.0.0.1:8480)\n"
            "  --open\n      serve others\n"
            "  --host TEXT (repeatable)\n      a host\n"
            "  --config FILE\n      a file of these keys\n"
            "  --help\n      prints this text\n");
}

}  // namespace
}  // namespace tvd::daemon
