// Boost.URL's compiled part, built into the server library (Debian ships Boost.URL as headers only).
#include <boost/url/src.hpp>
