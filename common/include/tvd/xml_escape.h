// Escaping text for XML and HTML documents the project writes (the overview
// page and SVG, libvirt secret definitions, the canonical form of a domain).
// One loop serves all of them so that a fix to one reaches every writer.
#pragma once

#include <string>
#include <string_view>

namespace tvd {

// `text` made safe as XML/HTML character data and as an attribute value
// quoted with either " or ': & < > " ' become &amp; &lt; &gt; &quot; &#39;.
// Control characters that XML 1.0 does not allow (below 0x20 other than tab
// and line feed, carriage return included so that no parser normalizes it
// away) become '?', so the result is always well-formed. Never fails.
std::string EscapeXml(std::string_view text);

// The escaping of the canonical domain form (tvd/policy/canonical.h): only
// & < > " become &amp; &lt; &gt; &quot;, every other byte is kept. The
// canonical form is hashed into a VM's "config" measure, so this mapping is
// fixed: changing it changes every digest.
std::string EscapeXmlCanonical(std::string_view text);

}  // namespace tvd
