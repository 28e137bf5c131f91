// Builds the Linux guest image (scripts/linux-guest/build-image.sh), checks what
// the initramfs holds, and boots it under QEMU TCG (Debian's cloud kernel does
// not boot on this software KVM): ready marker, UDP and TCP echo, HTTP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "host/testguest/qemu_runner.h"

namespace twinstep::testguest {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; returns its exit status and stdout.
int RunShell(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Field(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  return "";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One TCP request; returns everything the peer sent before closing (or timing out).
std::string TcpExchange(uint16_t port, const std::string& request, bool half_close) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  // connect takes a sockaddr*: sockaddr_in is its IPv4 layout.
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    if (half_close) shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      got.append(buf, static_cast<size_t>(n));
      if (!half_close && got.size() >= request.size()) break;
    }
  }
  close(fd);
  return got;
}

class LinuxGuestImage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/twinstep-linux-guest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(LinuxGuestImage, BuildsBootsAndServes) {
  std::string out;
  int rc = RunShell(std::string(TWINSTEP_LINUX_GUEST_SCRIPT) + " " + dir_ + "/out", &out);
  if (rc == 2) GTEST_SKIP() << "the kernel package could not be fetched: " << out;
  ASSERT_EQ(rc, 0) << out;
  std::string kernel = Field(out, "kernel: "), initramfs = Field(out, "initramfs: ");
  ASSERT_TRUE(fs::is_regular_file(kernel)) << out;
  ASSERT_TRUE(fs::is_regular_file(initramfs)) << out;

  std::string tree = dir_ + "/tree";
  fs::create_directories(tree);
  std::string ignored;
  ASSERT_EQ(RunShell("gzip -dc " + initramfs + " | (cd " + tree + " && /bin/busybox cpio -id 2>&1)", &ignored), 0)
      << ignored;
  for (const char* f : {"init", "bin/busybox", "bin/echod", "etc/modules-load", "www/index.html",
                        "lib/modules/virtio.ko", "lib/modules/virtio_ring.ko", "lib/modules/virtio_pci.ko",
                        "lib/modules/virtio_net.ko", "lib/modules/virtio_blk.ko"})
    EXPECT_TRUE(fs::exists(tree + "/" + f)) << f;
  EXPECT_TRUE(fs::is_symlink(tree + "/bin/sh"));
  // Every module is loaded after the modules it depends on.
  std::vector<std::string> order;
  std::istringstream in(Slurp(tree + "/etc/modules-load"));
  for (std::string m; std::getline(in, m);) order.push_back(m);
  auto pos = [&order](const std::string& m) {
    for (size_t i = 0; i < order.size(); i++)
      if (order[i] == m) return static_cast<int>(i);
    return -1;
  };
  EXPECT_GE(pos("virtio"), 0);
  EXPECT_LT(pos("virtio"), pos("virtio_pci"));
  EXPECT_LT(pos("virtio_ring"), pos("virtio_net"));
  EXPECT_LT(pos("net_failover"), pos("virtio_net"));
  EXPECT_LT(pos("virtio"), pos("virtio_blk"));

  std::string reason;
  if (!QemuAvailable(&reason)) GTEST_SKIP() << "image checked; cannot boot it: " << reason;
  QemuConfig c;
  c.image = kernel;
  c.initrd = initramfs;
  c.append = "console=ttyS0 panic=-1 ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2";
  c.work_dir = dir_;
  c.mem_mib = 512;
  c.force_tcg = true;
  c.forward_tcp = true;
  c.ready_marker = "twinstep-linux-guest: ready";
  c.ready_timeout_s = 300;
  c.disk = dir_ + "/disk.img";
  std::ofstream(c.disk).close();
  fs::resize_file(c.disk, 1 << 20);
  auto g = QemuGuest::Start(c);
  ASSERT_TRUE(g) << g.error().ToString();
  std::string con = (*g)->Console();
  EXPECT_NE(con.find("twinstep-linux-guest: config ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2"),
            std::string::npos)
      << con;
  EXPECT_EQ(con.find("insmod"), std::string::npos) << con;  // every module loaded
  EXPECT_NE(con.find("twinstep-linux-guest: disks: vda"), std::string::npos) << con;
  auto client = UdpClient::Open();
  ASSERT_TRUE(client);
  auto r = (*client)->Exchange((*g)->echo_port(), "udp echo through linux", 3000, 5);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, "udp echo through linux");
  EXPECT_EQ(TcpExchange((*g)->tcp_echo_port(), "tcp echo through linux\n", false), "tcp echo through linux\n");
  std::string http = TcpExchange((*g)->http_port(), "GET / HTTP/1.0\r\n\r\n", true);
  EXPECT_NE(http.find("200 OK"), std::string::npos) << http;
  EXPECT_NE(http.find("twinstep linux guest"), std::string::npos) << http;
}

}  // namespace
}  // namespace twinstep::testguest
