#include "worker/output_queue.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace snakepit::internal {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  return out;
}

TEST(OutputQueueTest, FramesAndReferencedBytesLeaveInOrder) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto big = std::make_shared<const std::string>(3 << 20, 'b');  // above the pipe's size
  OutputQueue queue;
  queue.tail() += "head1";
  queue.attach({big->data(), big->size()}, big);
  queue.tail() += "head2";
  queue.attach({"", 0}, nullptr);  // empty byte strings add nothing
  EXPECT_EQ(queue.bytes(), 10 + big->size());
  std::string received;
  std::thread reader([&] { received = read_all(fds[0]); });
  ASSERT_EQ(queue.write_to(fds[1]), OutputQueue::WriteResult::kDone);
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  EXPECT_EQ(received, "head1" + *big + "head2");
  EXPECT_TRUE(queue.empty());
}

TEST(OutputQueueTest, AFullPipeKeepsTheRestForLater) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK), 0);
  auto big = std::make_shared<const std::string>(4 << 20, 'x');
  OutputQueue queue;
  queue.tail() += "h";
  queue.attach({big->data(), big->size()}, big);
  EXPECT_EQ(queue.write_to(fds[1]), OutputQueue::WriteResult::kWouldBlock);
  const std::size_t left = queue.bytes();
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, big->size() + 1);
  std::string received;
  char buffer[65536];
  while (queue.write_to(fds[1]) != OutputQueue::WriteResult::kDone) {
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) received.append(buffer, static_cast<std::size_t>(n));
  }
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) received.append(buffer, static_cast<std::size_t>(n));
  EXPECT_EQ(received, "h" + *big);
  ::close(fds[0]);
  EXPECT_EQ(queue.write_to(fds[1]), OutputQueue::WriteResult::kDone);  // nothing left
  queue.tail() += "after";
  ::close(fds[1]);
}

TEST(OutputQueueTest, AClosedReaderDropsEverything) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::signal(SIGPIPE, SIG_IGN);
  OutputQueue queue;
  queue.tail() += "lost";
  EXPECT_EQ(queue.write_to(fds[1]), OutputQueue::WriteResult::kClosed);
  EXPECT_TRUE(queue.empty());
  ::close(fds[1]);
}

}  // namespace
}  // namespace snakepit::internal
