// echo_server.hpp — asyncuv-bench's echo-server subcommand (echo_server.cpp).
#pragma once

int echo_server_main(int argc, char** argv);
