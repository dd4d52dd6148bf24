// Runs every operation of the typed client against a server and checks each answer.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

import { type Session, type Transport, createTodoqlClient } from "../src/client.js";
import { eventually, recordingFetch } from "./server.js";

export const password = "correct horse battery";

/** A client of `url` sending documents as `transport`, recording its requests. */
export function clientOf(url: string, transport: Transport, getForQueries = false) {
  const recorder = recordingFetch();
  const client = createTodoqlClient({ url, transport, getForQueries, webSocketImpl: WebSocket, fetch: recorder.fetch });
  return { client, calls: recorder.calls };
}

/** Signs up, in and out, pages and filters, changes todos and follows their events. */
export async function exerciseEveryOperation(url: string, transport: Transport, getForQueries = false) {
  const { client, calls } = clientOf(url, transport, getForQueries);
  const email = `${randomUUID()}@example.com`;
  const signedUp = await client.signUp({ email, password, name: "Typed" });
  assert.equal(signedUp.user.email, email);
  assert.equal((await client.me()).email, email);
  await client.signOut();
  assert.ok(client.session === null, "signed out");
  const signedIn = await client.signIn({ email, password });
  assert.equal(signedIn.user.id, signedUp.user.id);

  const events: { kind: string; todoId: string }[] = [];
  const unsubscribe = client.subscribeTodoEvents({ next: (event) => events.push(event) });
  // Until the socket is up, creations go unseen: keep creating until one is seen.
  const created: string[] = [];
  await eventually("a CREATED event", async () => {
    created.push((await client.createTodo({ title: `Probe ${created.length}` })).id);
    return events.some((event) => event.kind === "CREATED" && created.includes(event.todoId));
  });
  for (const id of created) await client.deleteTodo(id);

  const milk = await client.createTodo({ title: "Buy milk", description: "oat" });
  const dog = await client.createTodo({ title: "Walk the dog" });
  await client.createTodo({ title: "Write tests" });
  const first = await client.todos({ first: 2 });
  assert.equal(first.totalCount, 3);
  assert.deepEqual(first.nodes.map((todo) => todo.title), ["Write tests", "Walk the dog"]);
  assert.equal(first.pageInfo.hasNextPage, true);
  const rest = await client.todos({ first: 2, after: first.pageInfo.endCursor });
  assert.deepEqual(rest.nodes.map((todo) => todo.title), ["Buy milk"]);
  assert.equal(rest.pageInfo.hasNextPage, false);
  const last = await client.todos({ last: 1, before: rest.pageInfo.startCursor });
  assert.deepEqual(last.nodes.map((todo) => todo.title), ["Walk the dog"]);
  assert.equal((await client.todos({ filter: { search: "MILK" } })).nodes[0]?.id, milk.id);
  const byTitle = await client.todos({ orderBy: { field: "TITLE", direction: "ASC" } });
  assert.deepEqual(byTitle.nodes.map((todo) => todo.title), ["Buy milk", "Walk the dog", "Write tests"]);

  assert.equal((await client.updateTodo(milk.id, { title: "Buy oat milk" })).title, "Buy oat milk");
  assert.equal((await client.toggleTodo(dog.id)).completed, true);
  assert.deepEqual((await client.todos({ filter: { completed: true } })).nodes.map((todo) => todo.id), [dog.id]);
  assert.equal((await client.todo(dog.id))?.completed, true);
  assert.equal(await client.deleteTodo(dog.id), dog.id);
  assert.equal(await client.todo(dog.id), null);
  await eventually("the DELETED event", () => events.some((e) => e.kind === "DELETED" && e.todoId === dog.id));
  assert.ok(events.some((e) => e.kind === "UPDATED" && e.todoId === milk.id));

  // An unusable access token: the client refreshes once and retries, with rotated tokens.
  // (Read afresh: TypeScript still narrows `client.session` to the null asserted above.)
  const session = client.session as Session | null;
  assert.ok(session);
  const stale = createTodoqlClient({ url, transport, session: { ...session, accessToken: "expired.or.forged" } });
  assert.equal((await stale.me()).email, email);
  assert.ok(stale.session && stale.session.refreshToken !== session.refreshToken, "the refresh token rotated");

  unsubscribe();
  await client.dispose();
  return calls;
}
