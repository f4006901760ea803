/**
 * Minimal server-rendered HTML for the owner's pages (login, setup, consent, authorizations):
 * escaping and one page frame. No scripts and no inline styles, so the CSP stays `default-src
 * 'self'`.
 *
 * @module
 */

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** A complete HTML page; `bodyHtml` must already be escaped. */
export function htmlPage(
  title: string,
  bodyHtml: string,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · openseg</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${bodyHtml}
</body>
</html>
`;
  return new Response(html, {
    status: init.status ?? 200,
    headers: { "Content-Type": "text/html; charset=utf-8", ...init.headers },
  });
}

/** A 303 redirect (after a POST, the browser follows with GET). */
export function seeOther(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { Location: location, ...headers } });
}
