// JSON value type used for command arguments, results and error details.
#pragma once

#include <nlohmann/json.hpp>

namespace snakepit {

using Json = nlohmann::json;

}  // namespace snakepit
