// TLS and mutual TLS options against heraldd with openssl-made certificates.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { HeraldClient, UnavailableError } from "@herald/client";

import { Heraldd } from "./helpers.js";

let pki: string;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: pki, stdio: "pipe" });
}

before(() => {
  pki = mkdtempSync(join(tmpdir(), "herald-ts-pki-"));
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=herald test CA",
    "-keyout", "ca.key", "-out", "ca.pem");
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ["client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
    writeFileSync(join(pki, `${name}.ext`), `${ext}\n`);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
      "-extfile", `${name}.ext`, "-out", `${name}.pem`);
  }
});

after(() => rmSync(pki, { recursive: true, force: true }));

const file = (name: string) => readFileSync(join(pki, name));

describe("TLS", () => {
  test("tls.rootCerts trusts the server's CA; plaintext and system roots fail", async () => {
    const server = await Heraldd.start({
      extraArgs: [`--tls_cert_file=${pki}/server.pem`, `--tls_key_file=${pki}/server.key`],
    });
    try {
      const client = new HeraldClient({ address: server.address, token: server.adminToken, tls: { rootCerts: file("ca.pem") } });
      assert.equal((await client.getServerInfo()).caller?.name, "bootstrap-admin");
      client.close();
      const named = new HeraldClient({
        address: server.address,
        token: server.adminToken,
        tls: { rootCerts: file("ca.pem").toString("utf8"), serverName: "localhost" },
      });
      assert.equal((await named.getServerInfo()).caller?.name, "bootstrap-admin");
      named.close();
      for (const bad of [
        new HeraldClient({ address: server.address, token: server.adminToken, insecure: true, retry: false }),
        new HeraldClient({ address: server.address, token: server.adminToken, tls: true, retry: false }),
      ]) {
        await assert.rejects(bad.getServerInfo({ deadlineMs: 3000 }), UnavailableError);
        bad.close();
      }
    } finally {
      assert.equal(await server.stop(), 0);
      await server.dispose();
    }
  });

  test("mutual TLS: certChain and privateKey", async () => {
    const server = await Heraldd.start({
      extraArgs: [
        `--tls_cert_file=${pki}/server.pem`,
        `--tls_key_file=${pki}/server.key`,
        `--tls_client_ca_file=${pki}/ca.pem`,
      ],
    });
    try {
      const client = new HeraldClient({
        address: server.address,
        token: server.adminToken,
        tls: { rootCerts: file("ca.pem"), certChain: file("client.pem"), privateKey: file("client.key") },
      });
      assert.equal((await client.getServerInfo()).caller?.name, "bootstrap-admin");
      client.close();
      const without = new HeraldClient({
        address: server.address,
        token: server.adminToken,
        tls: { rootCerts: file("ca.pem") },
        retry: false,
      });
      await assert.rejects(without.getServerInfo({ deadlineMs: 3000 }), UnavailableError);
      without.close();
      assert.throws(
        () => new HeraldClient({ address: server.address, tls: { certChain: file("client.pem") } }),
        TypeError,
      );
    } finally {
      assert.equal(await server.stop(), 0);
      await server.dispose();
    }
  });
});
