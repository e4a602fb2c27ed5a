#include "tvd/overview/overview_site.h"

#include "tvd/overview/render.h"

namespace tvd::overview {

HttpResponse OverviewSite::Handle(const HttpRequest& request) const {
  HttpResponse r;
  if (request.method != "GET") {
    r.status = 405;
    r.headers.push_back({"Allow", "GET"});
    r.body = "405 Method Not Allowed: only GET is served\n";
    return r;
  }
  if (request.path == "/") {
    r.content_type = "text/html; charset=utf-8";
    r.body = RenderHtml(overview_(), refresh_seconds_);
  } else if (request.path == "/overview.json") {
    r.content_type = "application/json";
    r.body = RenderJson(overview_()).dump(2) + "\n";
  } else if (request.path == "/overview.svg") {
    r.content_type = "image/svg+xml";
    r.body = RenderSvg(overview_());
  } else {
    r.status = 404;
    r.body =
        "404 Not Found: this server has /, /overview.json and "
        "/overview.svg\n";
  }
  return r;
}

}  // namespace tvd::overview
