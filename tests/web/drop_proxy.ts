/**
 * A TCP proxy in front of the gateway that can cut the network: `setDown(true)` closes every
 * proxied connection and refuses new ones until `setDown(false)`, as a Wi-Fi drop or a gateway
 * reboot looks to the browser. (Chromium's offline emulation leaves open event streams alone.)
 *
 * @module
 */

export interface DropProxy {
  /** `http://127.0.0.1:PORT` of the proxy. */
  url: string;
  setDown(down: boolean): void;
  close(): void;
}

/**
 * Proxies 127.0.0.1:`targetPort()`. The port is asked per connection, so the proxy can start
 * first and the gateway be told the proxy's URL as its public URL (its Host allow-list).
 */
export function startDropProxy(targetPort: () => number): DropProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let down = false;

  function closeQuietly(conn: Deno.Conn): void {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed by the other side.
    }
  }

  async function relay(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort() });
    } catch {
      return closeQuietly(client);
    }
    open.add(client);
    open.add(upstream);
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
    closeQuietly(client);
    closeQuietly(upstream);
  }

  (async () => {
    for await (const conn of listener) {
      if (down) closeQuietly(conn);
      else relay(conn);
    }
  })().catch(() => {});

  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    setDown(next) {
      down = next;
      if (down) { for (const conn of [...open]) closeQuietly(conn); }
    },
    close() {
      for (const conn of [...open]) closeQuietly(conn);
      listener.close();
    },
  };
}
