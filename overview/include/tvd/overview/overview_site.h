// The web overview's routes, independent of sockets so tests call them
// directly:
//   GET /               the HTML page (self-refreshing)
//   GET /overview.json  RenderJson (docs/overview.md)
//   GET /overview.svg   the SVG picture alone
// Any other method: 405 with "Allow: GET". Any other path: 404. A query
// string is ignored.
#pragma once

#include <functional>

#include "tvd/overview/http_request.h"
#include "tvd/overview/http_server.h"
#include "tvd/overview/model.h"

namespace tvd::overview {

class OverviewSite {
 public:
  // `overview`: the current overview (e.g. CachedOverview::Get); called
  // once per request for a known path, from any connection thread.
  OverviewSite(std::function<Overview()> overview, int refresh_seconds)
      : overview_(std::move(overview)), refresh_seconds_(refresh_seconds) {}

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  std::function<Overview()> overview_;
  int refresh_seconds_;
};

}  // namespace tvd::overview
