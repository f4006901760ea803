/**
 * A throwaway TLS certificate for 127.0.0.1, signed by a throwaway CA (rustls refuses a
 * self-signed leaf), made with the system's `openssl`; null when openssl is not installed.
 *
 * @module
 */

export interface TestCertificate {
  cert: string;
  key: string;
  /** The CA to trust in `Deno.createHttpClient({ caCerts })`. */
  ca: string;
}

/** Creates the CA and leaf in a temporary directory and returns their PEM texts. */
export async function makeTestCertificate(): Promise<TestCertificate | null> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await Deno.writeTextFile(
      `${dir}/leaf.ext`,
      "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    const steps = [
      [
        "req",
        "-x509",
        ...ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
      ],
      ["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"],
      [
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
      ],
    ];
    for (const args of steps) {
      const result = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (!result.success) return null;
    }
    return {
      cert: await Deno.readTextFile(`${dir}/leaf.pem`),
      key: await Deno.readTextFile(`${dir}/leaf.key`),
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
