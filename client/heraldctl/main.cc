// heraldctl: the command-line client of herald. See README.md, "## heraldctl".
#include "client/heraldctl/cli.h"

int main(int argc, char** argv) { return herald::ctl::Main(argc, argv); }
