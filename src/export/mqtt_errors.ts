/**
 * Turns what the MQTT client reports into one sentence an operator can act on: which broker, what
 * went wrong, and that the gateway keeps storing meanwhile.
 *
 * @module
 */

/** CONNACK codes meaning "bad credentials / not allowed" (MQTT 3.1.1: 4, 5; MQTT 5: 134, 135). */
const AUTH_REFUSED_CODES = new Set([4, 5, 134, 135]);

/** A one-line description of a connection error for `url` (which must carry no credentials). */
export function describeMqttError(error: unknown, url: string): string {
  const { code, message, name } = error instanceof Error
    ? { code: (error as { code?: unknown }).code, message: error.message, name: error.name }
    : { code: undefined, message: String(error), name: "" };
  let reason: string;
  if (typeof code === "number" && AUTH_REFUSED_CODES.has(code)) {
    reason = "the broker refused the login (wrong --mqtt-username or password, or not authorized)";
  } else if (code === "ECONNREFUSED") {
    reason = "connection refused (is the broker running, and is the port right?)";
  } else if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    reason = "host name not found";
  } else if (name === "NotCapable" || name === "PermissionDenied") {
    reason = `Deno permission missing: allow the broker in --allow-net (${message})`;
  } else if (/certificate|self.signed|CERT_|TLS|SSL/i.test(`${code ?? ""} ${message}`)) {
    reason = `TLS failed: ${message} (for a private CA give --mqtt-ca)`;
  } else {
    reason = message;
  }
  return `cannot connect to the MQTT broker at ${url}: ${reason}`;
}
