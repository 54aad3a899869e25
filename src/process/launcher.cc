#include "process/launcher.h"

#include <boost/asio/post.hpp>

namespace snakepit::internal {

void Launcher::launch(SpawnSpec spec, boost::asio::any_io_executor loop, Done done) {
  boost::asio::post(threads_, [spec = std::move(spec), loop, done = std::move(done)]() mutable {
    auto result = std::make_shared<Result<ChildProcess>>(spawn_process(spec));
    boost::asio::post(loop, [result, done = std::move(done)]() mutable { done(std::move(*result)); });
  });
}

}  // namespace snakepit::internal
