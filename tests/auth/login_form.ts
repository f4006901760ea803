/**
 * The owner's login form as a browser sends it: the page's hidden fields (and cookie, if the page
 * sets one) plus a password, from the gateway's own origin. Read from the page rather than assumed,
 * so the benchmarks and process tests keep working when the form gains fields.
 *
 * @module
 */

/** What to send for a sign-in with `password`; `withPassword` makes further attempts. */
export interface LoginForm {
  headers: Record<string, string>;
  withPassword(password: string): URLSearchParams;
}

/** Loads `/owner/login` once and returns the form to POST back to it. */
export async function loadLoginForm(url: string, signal?: AbortSignal): Promise<LoginForm> {
  const page = await fetch(`${url}/owner/login`, { signal });
  const html = await page.text();
  const hidden = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)]
    .map((match): [string, string] => [match[1], match[2]]);
  const cookie = page.headers.get("set-cookie")?.split(";")[0];
  return {
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: url,
      ...(cookie === undefined ? {} : { Cookie: cookie }),
    },
    withPassword: (password) => new URLSearchParams([...hidden, ["password", password]]),
  };
}
