/**
 * A real mosquitto for the export tests: started on a free 127.0.0.1 port with its own temporary
 * config (never a system service), stoppable and restartable on the same port, optionally with a
 * password file, persistence (so a subscriber's session and queue survive a restart) and a TLS
 * listener (`mqtts://`).
 *
 * Queue and in-flight limits are off unless asked for: with mosquitto's defaults a fast burst to
 * a QoS 1 subscriber loses messages at the broker, which would hide what the tests check.
 *
 * @module
 */

import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { TestCertificate } from "../http/tls_fixture.ts";

export interface BrokerOptions {
  /** Login names and passwords; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** Keep sessions and queued messages across `restart()`. */
  persistent?: boolean;
  /** Keep mosquitto's default queue limits (the benchmark shows what they cost). */
  defaultLimits?: boolean;
  /** Listen with TLS only, with this server certificate (its `ca` is the CA file). */
  tls?: TestCertificate;
}

export interface Broker {
  /** `mqtt://127.0.0.1:<port>`, or `mqtts://…` with `tls`. */
  url: string;
  port: number;
  /** Stops mosquitto (SIGTERM, so a persistent broker saves its state). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-mosquitto-" });
  // Started as root, mosquitto drops to its own user and must still reach its files here.
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(options.defaultLimits ? [] : ["max_queued_messages 0", "max_inflight_messages 0"]),
    options.persistent ? `persistence true\npersistence_location ${dir}/` : "persistence false",
  ];
  if (options.users) {
    const passwordFile = `${dir}/passwords`;
    await Deno.writeTextFile(passwordFile, "");
    for (const [user, password] of Object.entries(options.users)) {
      const result = await new Deno.Command("mosquitto_passwd", {
        args: ["-b", passwordFile, user, password],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
    }
    await Deno.chmod(passwordFile, 0o644);
    lines.push("allow_anonymous false", `password_file ${passwordFile}`);
  } else {
    lines.push("allow_anonymous true");
  }
  if (options.tls) {
    const files = { cafile: options.tls.ca, certfile: options.tls.cert, keyfile: options.tls.key };
    for (const [setting, pem] of Object.entries(files)) {
      const file = `${dir}/${setting}.pem`;
      // A throwaway key, readable by the mosquitto user.
      await Deno.writeTextFile(file, pem, { mode: 0o644 });
      await Deno.chmod(file, 0o644);
      lines.push(`${setting} ${file}`);
    }
  }
  const configFile = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(configFile, lines.join("\n") + "\n");

  let process: Deno.ChildProcess | null = null;
  const broker: Broker = {
    url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    port,
    async start() {
      process = new Deno.Command("mosquitto", {
        args: ["-c", configFile],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitForPort(port);
    },
    async stop() {
      if (process === null) return;
      process.kill("SIGTERM");
      await process.status;
      process = null;
    },
    async close() {
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
  await broker.start();
  return broker;
}

async function waitForPort(port: number): Promise<void> {
  const deadline = performance.now() + 5000;
  while (true) {
    try {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      connection.close();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  /** The broker re-delivered it (a QoS 1 message whose acknowledgement it did not get). */
  dup: boolean;
}

/** A subscriber that records every message on `filter`, in arrival order. */
export async function subscriber(
  url: string,
  filter: string,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, { reconnectPeriod: 200, ...options });
  const messages: Received[] = [];
  client.on("message", (topic, payload, packet) => {
    messages.push({
      topic,
      text: new TextDecoder().decode(payload),
      retain: packet.retain,
      dup: packet.dup,
    });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}
