// The guest attestation channel in a domain's XML (vm_admission.h): only
// the proxy writes it, and the socket behind it is only taken from the one
// channel libvirt bound for that port.
#include <gtest/gtest.h>

#include "tvd/proxy/vm_admission.h"

namespace tvd::proxy {
namespace {

constexpr char kChannelTestUuid[] = "6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60";

std::string ChannelDomain(const std::string& devices) {
  return "<domain type='kvm'><name>web</name><devices>" + devices +
         "</devices></domain>";
}

constexpr char kLibvirtsChannel[] =
    "<channel type='unix'><source mode='bind' "
    "path='/var/lib/libvirt/qemu/channel/target/domain-3-web/"
    "org.tvd.attest.0'/><target type='virtio' name='org.tvd.attest.0' "
    "state='connected'/><alias name='channel0'/></channel>";

TEST(AttestChannelTest, TheSocketIsTheOneLibvirtBound) {
  auto socket = AttestChannelSocket(ChannelDomain(
      "<channel type='unix'><source mode='bind' path='/run/ga.sock'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>" +
      std::string(kLibvirtsChannel)));
  ASSERT_TRUE(socket.ok()) << socket.status();
  EXPECT_EQ(*socket,
            "/var/lib/libvirt/qemu/channel/target/domain-3-web/"
            "org.tvd.attest.0");
}

TEST(AttestChannelTest, AnythingButOneBoundUnixChannelIsRefused) {
  EXPECT_EQ(AttestChannelSocket(ChannelDomain("")).status(),
            NotFound("domain has no attestation channel"));
  EXPECT_EQ(AttestChannelSocket(ChannelDomain(std::string(kLibvirtsChannel) +
                                       kLibvirtsChannel))
                .status(),
            InvalidArgument("domain has 2 attestation channels; the proxy "
                            "writes one"));
  const Status not_bound = InvalidArgument(
      "the attestation channel is not a unix socket libvirt bound to an "
      "absolute path");
  // Not yet started (no path), a relative path, a connecting socket, a pty.
  EXPECT_EQ(AttestChannelSocket(
                ChannelDomain("<channel type='unix'><target type='virtio' "
                       "name='org.tvd.attest.0'/></channel>"))
                .status(),
            not_bound);
  EXPECT_EQ(AttestChannelSocket(
                ChannelDomain("<channel type='unix'><source mode='bind' "
                       "path='x.sock'/><target type='virtio' "
                       "name='org.tvd.attest.0'/></channel>"))
                .status(),
            not_bound);
  EXPECT_EQ(AttestChannelSocket(
                ChannelDomain("<channel type='unix'><source mode='connect' "
                       "path='/run/x.sock'/><target type='virtio' "
                       "name='org.tvd.attest.0'/></channel>"))
                .status(),
            not_bound);
  EXPECT_EQ(AttestChannelSocket(
                ChannelDomain("<channel type='pty'><source path='/dev/pts/3'/>"
                       "<target type='virtio' name='org.tvd.attest.0'/>"
                       "</channel>"))
                .status(),
            not_bound);
  EXPECT_EQ(AttestChannelSocket("<domain").status().code(),
            ErrorCode::kInvalidArgument);
}

// The proxy talks only to sockets in libvirt's channel directory, as this
// process sees it.
TEST(AttestChannelTest, OnlySocketsInLibvirtsChannelDirectoryAreReached) {
  const std::string socket =
      "/var/lib/libvirt/qemu/channel/target/domain-3-web/org.tvd.attest.0";
  EXPECT_EQ(*ChannelSocketSeenAt(socket, kLibvirtChannelDir), socket);
  EXPECT_EQ(*ChannelSocketSeenAt(socket, "/run/tb/h1/libvirt/lib/qemu/"
                                         "channel/target"),
            "/run/tb/h1/libvirt/lib/qemu/channel/target/domain-3-web/"
            "org.tvd.attest.0");
  for (const std::string bad :
       {"/run/tvd/factory.sock", "/var/lib/libvirt/qemu/channel/target",
        "/var/lib/libvirt/qemu/channel/target/",
        "/var/lib/libvirt/qemu/channel/target/../../../../run/x.sock",
        "/var/lib/libvirt/qemu/channel/target/d/./x",
        "/var/lib/libvirt/qemu/channel/target//x",
        "/var/lib/libvirt/qemu/channel/targetx/d/x"}) {
    EXPECT_EQ(ChannelSocketSeenAt(bad, kLibvirtChannelDir).status(),
              InvalidArgument("the attestation socket " + bad +
                              " is not in libvirt's channel directory "
                              "/var/lib/libvirt/qemu/channel/target"))
        << bad;
  }
}

TEST(AttestChannelTest, WithVtpmAddsTheChannelOnceAndRefusesASecond) {
  auto xml = WithVtpm(ChannelDomain(""), kChannelTestUuid, "secret-uuid");
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_EQ(*HasAttestChannel(*xml), true);
  // ACPI, without which the guest does not see a CRB TPM, added once.
  const std::size_t features = xml->find("<features>");
  ASSERT_NE(features, std::string::npos) << *xml;
  EXPECT_LT(features, xml->find("<acpi/>"));
  EXPECT_LT(xml->find("<acpi/>"), xml->find("</features>"));
  auto kept = WithVtpm(
      "<domain type='kvm'><name>web</name><features><acpi/><apic/>"
      "</features><devices/></domain>",
      kChannelTestUuid, "secret-uuid");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->find("<acpi/>"), kept->rfind("<acpi/>")) << *kept;
  EXPECT_NE(kept->find("<apic/>"), std::string::npos) << *kept;
  // Before libvirt starts it there is no socket yet.
  EXPECT_EQ(AttestChannelSocket(*xml).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(WithVtpm(ChannelDomain("<channel type='unix'><target type='virtio' "
                            "name='org.tvd.attest.0'/></channel>"),
                     kChannelTestUuid, "secret-uuid")
                .status(),
            InvalidArgument("domain XML: it has an attestation channel "
                            "already"));
  EXPECT_EQ(*HasAttestChannel(ChannelDomain(kLibvirtsChannel)), true);
  EXPECT_EQ(*HasAttestChannel(ChannelDomain(
                "<channel type='unix'><target type='virtio' "
                "name='org.qemu.guest_agent.0'/></channel>")),
            false);
}

}  // namespace
}  // namespace tvd::proxy
