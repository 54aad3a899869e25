# Warning flags, sanitizers and helpers shared by every target.

add_library(snakepit_build_flags INTERFACE)
target_compile_options(snakepit_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(SNAKEPIT_WERROR)
  target_compile_options(snakepit_build_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside std::variant and nlohmann::json.
  target_compile_options(snakepit_build_flags INTERFACE -Wno-maybe-uninitialized)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(snakepit_build_flags INTERFACE -Wthread-safety)
endif()

set(_sanitizers "")
if(SNAKEPIT_ASAN)
  list(APPEND _sanitizers address undefined)
elseif(SNAKEPIT_UBSAN)
  list(APPEND _sanitizers undefined)
endif()
if(SNAKEPIT_TSAN)
  list(APPEND _sanitizers thread)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns that TSan does not model std::atomic_thread_fence (used by
    # Boost.Asio); the warning is not actionable here.
    add_compile_options(-Wno-tsan)
  endif()
endif()
if(_sanitizers)
  list(JOIN _sanitizers "," _joined)
  add_compile_options(-fsanitize=${_joined} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_joined})
endif()

# Precompiled headers: the heavy third-party headers parse once per target
# instead of once per file (roughly halves a build on two cores).
option(SNAKEPIT_PCH "Use precompiled headers" ON)
function(snakepit_use_pch target)
  if(SNAKEPIT_PCH)
    target_precompile_headers(${target} PRIVATE
      <nlohmann/json.hpp> <fmt/format.h> <boost/asio/io_context.hpp> <boost/asio/steady_timer.hpp>
      <boost/asio/posix/stream_descriptor.hpp> ${ARGN})
  endif()
endfunction()

# snakepit_add_test(NAME SOURCES src... LABEL label [SERIAL]): one GoogleTest
# executable; each TEST runs as its own CTest test carrying `label`. SERIAL:
# its tests run alone (they kill hosts whose orphans any concurrent pool
# start would sweep).
function(snakepit_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "LABEL" "SOURCES" ${ARGN})
  set(serial FALSE)
  if(ARG_SERIAL)
    set(serial TRUE)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE snakepit::core snakepit_build_flags
    GTest::gtest GTest::gmock GTest::gtest_main Boost::headers)
  target_compile_definitions(${name} PRIVATE
    SNAKEPIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
  snakepit_use_pch(${name} <gtest/gtest.h>)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT 300 RUN_SERIAL ${serial})
endfunction()
