// Entry point of wmd.node, the Node-API addon behind the `wmd` package (see client/node/index.js
// for the JavaScript API the package exposes on top of these native classes).
#include <node_api.h>

#include "client/node/src/distributor.hpp"
#include "client/node/src/napi_util.hpp"
#include "client/node/src/segment_mirror.hpp"

namespace wmd::node {
namespace {

napi_value init(napi_env env, napi_value exports) {
  return boundary(env, [&]() -> napi_value {
    set_property(env, exports, "Distributor", Distributor::define_class(env));
    set_property(env, exports, "SegmentMirror", SegmentMirror::define_class(env));
    return exports;
  });
}

}  // namespace
}  // namespace wmd::node

NAPI_MODULE_INIT() {
  return wmd::node::init(env, exports);
}
