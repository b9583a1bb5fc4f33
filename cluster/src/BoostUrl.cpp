// Boost.URL's compiled part (Debian ships Boost.URL as headers only), built once here for the
// cluster library (Redis URLs) and everything that links it (the server: query strings).
#include <boost/url/src.hpp>
