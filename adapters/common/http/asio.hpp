#pragma once
// Include Asio/Beast through this header: Boost 1.74 Asio in C++20 mode with g++ 12 misses
// <utility> (see ENV.md).
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
