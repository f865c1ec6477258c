import { describe, expect, it } from "vitest";
import { checkHost, checkUrl } from "../src/lib/host-guard";

const strict = { allowPrivate: false };

describe("host guard", () => {
  it.each([
    "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.0.0.1", "017700000001",
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1",
    "::1", "[::1]", "::", "::ffff:127.0.0.1", "::ffff:7f00:1", "[::ffff:10.0.0.1]", "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "2001:db8::1",
    "localhost", "LOCALHOST", "db.localhost", "printer.local", "metadata.google.internal", "metadata", "db",
    "localhost.", "0:0:0:0:0:0:0:1", "0000::0001",
    // IPv4-translated (::ffff:0:0/96), local-use NAT64 (64:ff9b:1::/48), the rest of reserved ::/8
    "::ffff:0:127.0.0.1", "::ffff:0:7f00:1", "[::ffff:0:a9fe:a9fe]", "64:ff9b:1::a00:1", "64:ff9b:1:ffff::1", "::1:0:0:1",
  ])("refuses %s", (host) => {
    expect(checkHost(host, strict).ok).toBe(false);
  });

  it.each(["8.8.8.8", "db.example.com", "2606:4700::1111", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "64:ff9b::808:808", "172.32.0.1", "100.128.0.1"])(
    "accepts public %s",
    (host) => {
      expect(checkHost(host, strict)).toEqual({ ok: true, host: expect.any(String) });
    },
  );

  it("rejects malformed hosts even in development", () => {
    for (const host of ["", " ", "a b", "host/path", "user@host", "host:5432", "http://x"]) {
      expect(checkHost(host, { allowPrivate: true }).ok, host).toBe(false);
    }
  });

  it("lets development reach loopback", () => {
    expect(checkHost("127.0.0.1", { allowPrivate: true })).toEqual({ ok: true, host: "127.0.0.1" });
  });

  it.each([
    "http://example.com/hook", "https://user:pw@example.com/", "https://127.0.0.1/", "https://0x7f.1/",
    "https://2130706433/", "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[fe80::1]/",
    "https://169.254.169.254/latest", "https://localhost:8443/", "https://a.localhost/", "https://x.internal/",
    "https://10.0.0.1/", "https://100.64.1.1/", "ftp://example.com/", "not a url", "https://[64:ff9b::7f00:1]/",
    "https://[::ffff:0:127.0.0.1]/", "https://[64:ff9b:1::7f00:1]/",
  ])("refuses webhook URL %s", (url) => {
    expect(checkUrl(url, strict).ok).toBe(false);
  });

  it("accepts a public https URL, and http to loopback only in development", () => {
    expect(checkUrl("https://hooks.example.com/edgeboard", strict).ok).toBe(true);
    expect(checkUrl("http://127.0.0.1:9000/", { allowPrivate: true }).ok).toBe(true);
    expect(checkUrl("https://user@127.0.0.1/", { allowPrivate: true }).ok).toBe(false);
  });
});
