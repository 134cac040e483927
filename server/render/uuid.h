// Random (version 4) UUIDs, for CloudEvents ids and webhook ids.
#ifndef HERALD_SERVER_RENDER_UUID_H_
#define HERALD_SERVER_RENDER_UUID_H_

#include <string>

namespace herald::render {

// A new random UUID v4 in lowercase canonical form,
// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (y is 8, 9, a or b), from 122
// bits of the operating system's random source (getrandom(2)).
// Thread-safe.
std::string NewUuidV4();

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_UUID_H_
