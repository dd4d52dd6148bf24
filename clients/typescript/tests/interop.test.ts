// The clients the issue names, unchanged, against a real todoql: Apollo Client's
// PersistedQueryLink (hashed queries over GET, retried with the text over POST) and urql's
// persistedExchange (the retry stays on GET, with `miss: true`), on the documents this
// package's codegen typed.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { test } from "node:test";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

import { createTodoqlClient } from "../src/client.js";
import * as Operations from "../src/operations.js";
import { password } from "./exercise.js";
import { recordingFetch, startTodoql } from "./server.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A server with a user who has one todo; the user's access token. */
async function serverWithTodo(t: { after: (f: () => Promise<void>) => void }) {
  const server = await startTodoql();
  t.after(server.stop);
  const typed = createTodoqlClient({ url: server.url, transport: "text" });
  await typed.signUp({ email: `${randomUUID()}@example.com`, password, name: "Interop" });
  await typed.createTodo({ title: "from the typed client" });
  return { url: server.url, token: typed.session?.accessToken ?? "" };
}

test("Apollo Client's PersistedQueryLink works unchanged: miss over GET, text over POST, then hits", async (t) => {
  const { url, token } = await serverWithTodo(t);
  const { fetch, calls } = recordingFetch();
  const apollo = new ApolloClient({
    link: ApolloLink.from([
      new PersistedQueryLink({ sha256, useGETForHashedQueries: true }),
      new HttpLink({ uri: url, fetch, headers: { authorization: `Bearer ${token}` } }),
    ]),
    cache: new InMemoryCache(),
  });
  for (let round = 0; round < 2; round++) {
    const { data } = await apollo.query({ query: Operations.Todos, variables: { first: 5 }, fetchPolicy: "network-only" });
    assert.deepEqual(data?.todos.nodes.map((todo) => todo.title), ["from the typed client"]);
  }
  const created = await apollo.mutate({ mutation: Operations.CreateTodo, variables: { input: { title: "from Apollo" } } });
  assert.equal(created.data?.createTodo.title, "from Apollo");
  const shape = calls.map((call) => `${call.method} ${call.query ? "text+hash" : "hash"} ${call.status}`);
  assert.deepEqual(shape, [
    "GET hash 400", // PersistedQueryNotFound (application/graphql-response+json makes it a 400)
    "POST text+hash 200",
    "GET hash 200",
    "POST hash 400", // mutations are never sent over GET
    "POST text+hash 200",
  ]);
});

test("urql's persistedExchange works unchanged: miss, retry with the text over GET, then hits", async (t) => {
  const { url, token } = await serverWithTodo(t);
  const { fetch, calls } = recordingFetch();
  const urql = new Client({
    url,
    fetch,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
  });
  for (let round = 0; round < 2; round++) {
    const result = await urql.query(Operations.Todos, { first: 5 }, { requestPolicy: "network-only" }).toPromise();
    assert.equal(result.error, undefined);
    assert.deepEqual(result.data?.todos.nodes.map((todo) => todo.title), ["from the typed client"]);
  }
  const shape = calls.map((call) => `${call.method} ${call.query ? "text+hash" : "hash"} ${call.status}`);
  assert.deepEqual(shape, ["GET hash 400", "GET text+hash 200", "GET hash 200"]);
  assert.ok(calls.every((call) => call.hash));
});
