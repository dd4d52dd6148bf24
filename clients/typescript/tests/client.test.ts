// The typed client against a real todoql: every operation as text, as automatic persisted
// queries and by documentId; with the server locked to this client's manifest; and the
// refresh and resubscription after a token expires.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { printExecutableGraphQLDocument } from "@graphql-tools/documents";
import { parse } from "graphql";
import WebSocket from "ws";

import { TodoqlError, createTodoqlClient } from "../src/client.js";
import * as Operations from "../src/operations.js";
import { clientOf, exerciseEveryOperation, password } from "./exercise.js";
import { eventually, manifestPath, startTodoql } from "./server.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

test("the manifest's ids are the SHA-256 of its texts, and of the texts the client sends on an APQ miss", () => {
  const manifest: Record<string, string> = JSON.parse(readFileSync(manifestPath, "utf8"));
  for (const [id, text] of Object.entries(manifest)) assert.equal(id, `sha256:${sha256(text)}`);
  const documents = Object.values(Operations).filter((d) => "__meta__" in d);
  assert.equal(documents.length, Object.keys(manifest).length);
  for (const document of documents) {
    const text = printExecutableGraphQLDocument(document);
    assert.equal((document as { __meta__: { hash: string } }).__meta__.hash, `sha256:${sha256(text)}`);
    assert.equal(manifest[`sha256:${sha256(text)}`], text);
  }
});

test("every operation runs as text", async (t) => {
  const server = await startTodoql();
  t.after(server.stop);
  const calls = await exerciseEveryOperation(server.url, "text");
  assert.ok(calls.every((call) => call.query && !call.hash && !call.documentId));
});

test("every operation runs as an automatic persisted query, queries over GET", async (t) => {
  const server = await startTodoql();
  t.after(server.stop);
  const calls = await exerciseEveryOperation(server.url, "apq", true);
  // Each document's text went once, after a miss; every other request carried only its hash.
  const withText = calls.filter((call) => call.query);
  const documents = Object.values(Operations).filter((d) => "__meta__" in d).length;
  assert.ok(withText.length > 0 && withText.length <= documents, `${withText.length} texts sent`);
  assert.ok(calls.filter((call) => !call.query).length > 2 * withText.length);
  assert.ok(calls.some((call) => call.method === "GET" && call.hash && !call.query && call.status === 200));
});

test("every operation runs by documentId once the server trusts this client's manifest", async (t) => {
  const server = await startTodoql({ TRUSTED_DOCUMENTS: manifestPath });
  t.after(server.stop);
  const calls = await exerciseEveryOperation(server.url, "documentId", true);
  assert.ok(calls.every((call) => call.documentId && !call.query && call.status === 200));
});

test("with TRUSTED_DOCUMENTS_ONLY, this client runs by id and by hash, and an operation outside its manifest is refused", async (t) => {
  const server = await startTodoql({ TRUSTED_DOCUMENTS: manifestPath, TRUSTED_DOCUMENTS_ONLY: "true" });
  t.after(server.stop);
  for (const transport of ["documentId", "apq"] as const) {
    const calls = await exerciseEveryOperation(server.url, transport);
    assert.ok(calls.every((call) => !call.query && call.status === 200), `${transport}: ${JSON.stringify(calls)}`);
  }
  const email = `${randomUUID()}@example.com`;
  const asText = createTodoqlClient({ url: server.url, transport: "text" });
  await assert.rejects(asText.signUp({ email, password, name: "Text" }), (error: TodoqlError) => {
    assert.equal(error.code, "PERSISTED_QUERY_ID_REQUIRED");
    return true;
  });
  const { client } = clientOf(server.url, "documentId");
  await client.signUp({ email, password, name: "Trusted" });
  const outside = Object.assign(parse("query Outside { me { id email name } }"), {
    __meta__: { hash: `sha256:${sha256("query Outside { me { id email name } }")}` },
  });
  for (const transport of ["documentId", "apq"] as const) {
    const other = createTodoqlClient({ url: server.url, transport, session: client.session });
    await assert.rejects(other.request(outside, {}), (error: TodoqlError) => {
      assert.equal(error.code, "PERSISTED_QUERY_NOT_IN_LIST");
      return true;
    });
  }
});

test("an expired token is refreshed for requests and for the socket, which resubscribes after 4403", async (t) => {
  const server = await startTodoql({ ACCESS_TOKEN_TTL: "2" });
  t.after(server.stop);
  const closes: number[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on("close", (code) => closes.push(code));
    }
  }
  const client = createTodoqlClient({ url: server.url, webSocketImpl: RecordingWebSocket, transport: "apq" });
  await client.signUp({ email: `${randomUUID()}@example.com`, password, name: "Expiring" });
  const seen: string[] = [];
  const unsubscribe = client.subscribeTodoEvents({ next: (event) => seen.push(event.todoId) });
  const created: string[] = [];
  const createUntilSeen = async () => {
    created.length = 0;
    await eventually("an event on the socket", async () => {
      created.push((await client.createTodo({ title: "tick" })).id);
      return created.some((id) => seen.includes(id));
    });
  };
  await createUntilSeen();
  await eventually("the server to close the socket with 4403", () => closes.includes(4403));
  // The token expired: requests refresh it, and the socket came back with a fresh one.
  await createUntilSeen();
  unsubscribe();
  await client.dispose();
});
