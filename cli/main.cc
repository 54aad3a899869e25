// snakepit: the command-line front end. All logic lives in cli_app.cc.
#include "cli_app.h"

int main(int argc, char** argv) { return snakepit::cli::run(argc, argv); }
