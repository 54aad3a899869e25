// Options from a TOML configuration file: pools, their adapters and limits,
// sessions. The format, every key, its default and its allowed values are in
// docs/configuration.md.
//
//   auto options = snakepit::load_config_file("snakepit.toml");
//   if (!options) { fmt::print(stderr, "{}\n", options.error()); return 2; }
//   auto pit = snakepit::Snakepit::start(std::move(*options));
//
// Every key is checked: an unknown key, a value of the wrong type, out of
// range or not among the allowed values, or a key of another adapter is an
// InvalidArgument whose message reads "FILE:LINE:COLUMN: KEY PROBLEM" (e.g.
// "snakepit.toml:7:8: pools.py.size must be between 1 and 4096, got 0");
// its details carry {"key", "line", "column"} and, where they apply,
// "allowed", "suggestion" (for a typo) or "expected" (a type). A syntax
// error has details {"reason": "syntax", "line", "column"}.
//
// The result fills Options::pools (in the order of the file),
// default_pool (the file's, else the first pool), data_dir and sessions;
// absent keys keep the library's defaults (a pool without `size`: 0, the
// library's default). Loading a file with a Python pool runs its
// interpreter once, as adapters::python() does.
#pragma once

#include <string>
#include <string_view>

#include "snakepit/options.h"
#include "snakepit/status.h"

namespace snakepit {

// Relative paths in the file (adapter modules, executables, working
// directories, python_path, data_dir) are taken relative to the file's
// directory. Errors: NotFound (no such file), FailedPrecondition (cannot be
// read), InvalidArgument (bad content, or larger than 1 MiB).
Result<Options> load_config_file(const std::string& path);

// As load_config_file(), from text; `base_dir` anchors relative paths
// (empty: the current directory) and `source` names the text in errors.
Result<Options> parse_config(std::string_view toml_text, const std::string& base_dir = {},
                             std::string_view source = "config");

}  // namespace snakepit
