import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, createAuth, memoryStore, type Store } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";

/** Hostile tokens for every RFC 8725 attack class; each must be refused with ERR_TOKEN_INVALID and its reason. */

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const clock = testClock();
const nowSec = () => Math.floor(clock() / 1000);

let auth: Auth;
let store: Store;
let kid: string;
let privateKey: KeyObject;
let good: string;

function claims(extra: Record<string, unknown> = {}) {
  return {
    iss: "https://issuer.test",
    aud: "api",
    sub: "u1",
    client_id: "default",
    sid: "s1",
    jti: "j1",
    iat: nowSec(),
    exp: nowSec() + 600,
    ...extra,
  };
}

/** Signs header+payload with our own Ed25519 private key (a forger who stole nothing can't do this). */
function signOurs(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}

beforeAll(async () => {
  store = memoryStore();
  auth = await createAuth({
    issuer: "https://issuer.test",
    audience: "api",
    store,
    clock,
    algorithm: "EdDSA",
    algorithms: ["EdDSA", "HS256"],
  });
  const [key] = await store.listKeys();
  if (!key) throw new Error("no key");
  kid = key.kid;
  privateKey = createPrivateKey({ key: key.privateJwk as import("node:crypto").JsonWebKey, format: "jwk" });
  good = (await auth.login("u1")).accessToken;
});
afterAll(() => auth.close());

async function reasonOf(token: unknown): Promise<string> {
  try {
    await auth.verify(token as string);
  } catch (e) {
    const err = e as { code: string; reason?: string; message: string };
    expect(err.code).toBe("ERR_TOKEN_INVALID");
    // No token material in messages.
    if (typeof token === "string" && token.length > 8) expect(err.message).not.toContain(token.slice(0, 20));
    return err.reason ?? "";
  }
  throw new Error("token was accepted");
}

describe("RFC 8725 attack classes", () => {
  it("a genuine token verifies (the baseline the attacks start from)", async () => {
    await expect(auth.verify(good)).resolves.toMatchObject({ sub: "u1" });
  });

  it.each(["none", "None", "NONE", "nOnE"])("alg %j is refused", async (alg) => {
    const token = `${b64({ alg, typ: "at+jwt", kid })}.${b64(claims())}.`;
    expect(await reasonOf(token)).toBe("alg");
    expect(await reasonOf(`${token}c2ln`)).toBe("alg");
  });

  it("algorithm confusion: the EdDSA public key used as an HMAC secret is refused", async () => {
    const pub = createPublicKey(privateKey);
    for (const secret of [
      pub.export({ format: "pem", type: "spki" }) as string,
      pub.export({ format: "der", type: "spki" }),
      Buffer.from(String((pub.export({ format: "jwk" }) as { x: string }).x), "base64url"),
    ]) {
      const input = `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${b64(claims())}`;
      const token = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      expect(await reasonOf(token)).toBe("alg");
    }
  });

  it("an algorithm outside the allowlist is refused even when well-formed", async () => {
    for (const alg of ["RS256", "ES256", "HS512", "PS256", "ES256K"]) {
      expect(await reasonOf(`${b64({ alg, typ: "at+jwt", kid })}.${b64(claims())}.c2ln`)).toBe("alg");
    }
  });

  it.each([
    ["unknown", "no-such-kid"],
    ["path traversal", "../../../../etc/passwd"],
    ["prototype key", "__proto__"],
    ["constructor", "constructor"],
    ["SQL", "' OR 1=1 --"],
    ["oversized", "k".repeat(300)],
    ["empty", ""],
    ["number", 7],
    ["missing", undefined],
  ])("hostile kid (%s) is refused", async (_name, hostileKid) => {
    const header: Record<string, unknown> = { alg: "EdDSA", typ: "at+jwt" };
    if (hostileKid !== undefined) header.kid = hostileKid;
    expect(await reasonOf(signOurs(header, claims()))).toBe("kid");
  });

  it("embedded keys are never trusted: jwk, jku, x5u, x5c", async () => {
    const attacker = generateKeyPairSync("ed25519");
    const jwk = attacker.publicKey.export({ format: "jwk" });
    for (const extra of [
      { jwk },
      { jku: "https://attacker.example/jwks.json" },
      { x5u: "https://attacker.example/cert.pem" },
      { x5c: ["MIIB"] },
    ]) {
      const header = { alg: "EdDSA", typ: "at+jwt", kid, ...extra };
      const input = `${b64(header)}.${b64(claims())}`;
      const token = `${input}.${sign(null, Buffer.from(input), attacker.privateKey).toString("base64url")}`;
      expect(await reasonOf(token)).toBe("embedded_key");
      // Even signed with our own key, a token carrying such a header is refused.
      expect(await reasonOf(signOurs(header, claims()))).toBe("embedded_key");
    }
  });

  it("a jose-made token with an embedded jwk is refused", async () => {
    const { privateKey: k, publicKey } = await jose.generateKeyPair("EdDSA");
    const token = await new jose.SignJWT(claims())
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", jwk: await jose.exportJWK(publicKey) })
      .sign(k);
    expect(await reasonOf(token)).toBe("embedded_key");
  });

  it("unknown crit is refused", async () => {
    expect(
      await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid, crit: ["exp"], exp: 1 }, claims())),
    ).toBe("crit");
    expect(await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid, crit: [] }, claims()))).toBe("crit");
  });

  const malformed: [string, () => unknown][] = [
    ["empty", () => ""],
    ["one part", () => "abc"],
    ["two parts", () => "abc.def"],
    ["four parts", () => `${good}.x`],
    ["empty signature part", () => good.slice(0, good.lastIndexOf(".") + 1)],
    ["padded header", () => `${b64({ alg: "EdDSA", typ: "at+jwt", kid })}=.${b64(claims())}.c2ln`],
    ["whitespace", () => ` ${good}`],
    ["header is an array", () => `${b64([1])}.${b64(claims())}.c2ln`],
    ["header is not JSON", () => `${b64("{nope")}.${b64(claims())}.c2ln`],
    ["a number", () => 42],
    ["null", () => null],
    ["an object", () => ({ token: "x" })],
  ];
  it.each(malformed)("malformed input (%s) is refused", async (_name, token) => {
    expect(await reasonOf(token())).toBe("malformed");
  });

  it("payload that is not a JSON object is refused after the signature check", async () => {
    expect(
      await reasonOf(
        signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, [1, 2] as unknown as Record<string, unknown>),
      ),
    ).toBe("malformed");
  });

  it("oversized input is refused before any parsing", async () => {
    expect(await reasonOf(`${"a".repeat(9000)}.b.c`)).toBe("too_long");
  });

  it("a tampered payload fails the signature check", async () => {
    const [h, , s] = good.split(".");
    expect(await reasonOf(`${h}.${b64(claims({ sub: "admin" }))}.${s}`)).toBe("signature");
  });

  it("one genuine token respelled is refused: a character swapped for one sharing its low byte, or for a base64 twin", async () => {
    const [h, p, sig] = good.split(".") as [string, string, string];
    const twin = (c: string) => String.fromCharCode(c.charCodeAt(0) + 0x100); // "A" -> "Ā"
    for (const at of [0, 5, p.length - 1]) {
      expect(await reasonOf(`${h}.${p.slice(0, at)}${twin(p[at]!)}${p.slice(at + 1)}.${sig}`)).toBe(
        "malformed",
      );
    }
    for (const at of [0, 9, sig.length - 1]) {
      expect(await reasonOf(`${h}.${p}.${sig.slice(0, at)}${twin(sig[at]!)}${sig.slice(at + 1)}`)).toBe(
        "malformed",
      );
    }
    // "-" and "_" written as base64's "+" and "/", padding, a space: the same bytes to a lax decoder.
    const i = sig.search(/[-_]/);
    if (i >= 0) {
      const swapped = sig[i] === "-" ? "+" : "/";
      expect(await reasonOf(`${h}.${p}.${sig.slice(0, i)}${swapped}${sig.slice(i + 1)}`)).toBe("malformed");
    }
    expect(await reasonOf(`${h}.${p}.${sig}==`)).toBe("malformed");
    expect(await reasonOf(`${h}.${p}.${sig.slice(0, 10)} ${sig.slice(10)}`)).toBe("malformed");
    expect(await reasonOf(`${h}.${p}.`)).toBe("malformed");
    // The genuine spelling still verifies.
    await expect(auth.verify(good)).resolves.toMatchObject({ sub: "u1" });
  });

  it("a truncated or re-encoded signature is refused", async () => {
    expect(await reasonOf(good.slice(0, -2))).toMatch(/signature|malformed/);
  });

  describe("token-type confusion", () => {
    it.each([["JWT"], ["jwt"], ["id_token+jwt"], [undefined], [""]])("typ %j is refused", async (typ) => {
      const header: Record<string, unknown> = { alg: "EdDSA", kid };
      if (typ !== undefined) header.typ = typ;
      expect(await reasonOf(signOurs(header, claims()))).toBe("typ");
    });

    it("typ application/at+jwt is accepted (RFC 9068 allows the full media type)", async () => {
      await expect(
        auth.verify(signOurs({ alg: "EdDSA", typ: "application/at+jwt", kid }, claims())),
      ).resolves.toBeTruthy();
    });

    it("a refresh token is refused as an access token", async () => {
      const t = await auth.login("u2");
      expect(await reasonOf(t.refreshToken)).toBe("malformed");
    });

    it("an access token is refused as a refresh token", async () => {
      const t = await auth.login("u2");
      await expect(auth.refresh(t.accessToken)).rejects.toMatchObject({ code: "ERR_REFRESH_INVALID" });
    });

    it("a token for another audience or issuer is refused", async () => {
      expect(await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ aud: "other" })))).toBe(
        "aud",
      );
      expect(
        await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ iss: "https://evil" }))),
      ).toBe("iss");
      await expect(
        auth.verify(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ aud: ["other", "api"] }))),
      ).resolves.toBeTruthy();
    });

    it("missing registered claims are refused", async () => {
      for (const drop of ["sub", "jti", "sid", "exp", "iat", "client_id"]) {
        const c: Record<string, unknown> = claims();
        delete c[drop];
        expect(await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, c))).toBe("claims");
      }
      expect(
        await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ exp: "9999999999" }))),
      ).toBe("claims");
    });

    it("nbf in the future and iat in the future are refused", async () => {
      expect(
        await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ nbf: nowSec() + 60 }))),
      ).toBe("nbf");
      expect(
        await reasonOf(signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ iat: nowSec() + 60 }))),
      ).toBe("iat");
    });
  });

  it("ES256 signatures in DER form are refused (JWS needs the raw P1363 form)", async () => {
    const es = memoryStore();
    const a = await createAuth({
      issuer: "https://issuer.test",
      audience: "api",
      store: es,
      clock,
      algorithm: "ES256",
    });
    try {
      const t = await a.login("u1");
      await expect(a.verify(t.accessToken)).resolves.toBeTruthy();
      const [key] = await es.listKeys();
      const pk = createPrivateKey({
        key: key?.privateJwk as import("node:crypto").JsonWebKey,
        format: "jwk",
      });
      const input = `${b64({ alg: "ES256", typ: "at+jwt", kid: key?.kid })}.${b64(claims())}`;
      const der = sign("sha256", Buffer.from(input), pk).toString("base64url");
      await expect(a.verify(`${input}.${der}`)).rejects.toMatchObject({
        code: "ERR_TOKEN_INVALID",
        reason: "signature",
      });
    } finally {
      await a.close();
    }
  });
});
