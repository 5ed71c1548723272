"""Where the app's pages get what they load: from the app itself, never from another site.

Voilà's report page links Font Awesome from a CDN, and nbconvert's page of a scheduled run loads require.js
and MathJax from others; behind a firewall those pages break, and code from elsewhere runs on our origin.
The templates in ``page_templates/`` leave those links out (Voilà's own bundle, served by the app, already
carries Font Awesome and its fonts), and every response carries :data:`CONTENT_SECURITY_POLICY`, so a page
that still names another site is refused by the browser rather than quietly loading it.
"""

from __future__ import annotations

from pathlib import Path

PAGE_TEMPLATES = Path(__file__).parent / "page_templates"
VOILA_TEMPLATES = PAGE_TEMPLATES / "voila"  # looked up before Voilà's lab template, which it extends

# Voilà's pages need their inline scripts and styles, and the kernel's websocket ('self' covers ws: and wss:
# to the same host). Nothing may come from, or be sent to, another origin; no page of ours may be framed by one.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])


def voila_template_paths(paths: list[str]) -> list[str]:
    """Voilà's template search path with ours first."""
    return [str(VOILA_TEMPLATES), *(path for path in paths if path != str(VOILA_TEMPLATES))]
