// A real Better Auth server for todoql's interop tests (tests/api/better_auth.rs): email and
// password sign-in, the `jwt` plugin (JWKS at /api/auth/jwks, tokens at /api/auth/token) and
// the `bearer` plugin (so a script can call /api/auth/token with `Authorization: Bearer`),
// on the memory adapter. It listens on a free loopback port and prints one JSON line,
// {"url": "http://127.0.0.1:<port>"}, once it serves. It exits when its stdin closes, so a
// test that dies cannot leave it running.
//
// Environment:
//   BA_ALG       the signing algorithm: EdDSA (Better Auth's default), ES256, ES512, RS256, PS256
//   BA_BASE_URL  the baseURL (and so `iss`/`aud`) to claim instead of its own address: an
//                impostor with keys of its own
//   BA_PORT      the loopback port to listen on (default: a free one)
//   BA_SCOPE     an OAuth `scope` claim (space-separated) for every token it issues
//
// Routes of its own, for the tests (not Better Auth's):
//   POST /test/rotate-key  adds a new signing key, which later tokens use; the old key stays
//                          published (Better Auth's rotation, as `jwks.rotationInterval` does it)
//   GET  /test/stats       {"jwksRequests": <how many JWKS requests it has served>}

import { randomBytes } from "node:crypto";
import { createServer } from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";
import { createJwk } from "better-auth/plugins/jwt";

const KEY_PAIRS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256", crv: "P-256" },
  ES512: { alg: "ES512", crv: "P-521" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};

const alg = process.env.BA_ALG ?? "EdDSA";
if (!KEY_PAIRS[alg]) {
  console.error(`BA_ALG must be one of ${Object.keys(KEY_PAIRS).join(", ")}, got ${alg}`);
  process.exit(2);
}

let jwksRequests = 0;
let handler = null;
let rotate = null;

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/test/stats" && req.method === "GET") return json(res, 200, { jwksRequests });
    if (path === "/test/rotate-key" && req.method === "POST") return json(res, 200, { kid: await rotate() });
    if (path === "/api/auth/jwks") jwksRequests += 1;
    return await handler(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) json(res, 500, { error: String(error) });
  }
});

server.listen(Number(process.env.BA_PORT ?? 0), "127.0.0.1", async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  const jwtOptions = { jwks: { keyPairConfig: KEY_PAIRS[alg] } };
  if (process.env.BA_SCOPE !== undefined) {
    // The user object is Better Auth's default payload; the claim rides beside it.
    jwtOptions.jwt = { definePayload: ({ user }) => ({ ...user, scope: process.env.BA_SCOPE }) };
  }
  const auth = betterAuth({
    baseURL: process.env.BA_BASE_URL ?? url,
    secret: randomBytes(32).toString("hex"),
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt(jwtOptions), bearer()],
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
  });
  const context = await auth.$context;
  rotate = async () => (await createJwk({ context }, jwtOptions)).id;
  handler = toNodeHandler(auth);
  console.log(JSON.stringify({ url }));
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
