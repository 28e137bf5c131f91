// FailErrno: an Error whose detail ends with the current errno's text.
#include "host/error.h"

#include <cerrno>
#include <cstring>

namespace twinstep::host {

Unexpected<Error> FailErrno(Errc code, const std::string& what) {
  const int e = errno;
  return Fail(code, what + ": " + std::strerror(e));
}

}  // namespace twinstep::host
