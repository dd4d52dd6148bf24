// A typed todoql client, small enough to copy into a Next.js app: every operation of
// src/operations.ts, typed by GraphQL Code Generator, sent as text, as an automatic persisted
// query (APQ) or by documentId; access tokens refreshed once on a 401 and the request retried;
// todoEvents over graphql-ws with the token in connectionParams, resubscribed after the server
// closes an expired token's socket with 4403.
import { printExecutableGraphQLDocument } from "@graphql-tools/documents";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type DocumentNode, type OperationDefinitionNode, print } from "graphql";
import { type Client as SocketClient, createClient as createSocketClient } from "graphql-ws";

import type * as Types from "./gql/graphql.js";
import * as Operations from "./operations.js";

/** How a request carries its document. */
export type Transport =
  /** `{"query": "…"}`: works everywhere except on a TRUSTED_DOCUMENTS_ONLY server. */
  | "text"
  /** `extensions.persistedQuery` with the document's hash; the text follows only on a miss. */
  | "apq"
  /** `{"documentId": "sha256:…"}`: the id in the manifest this client generated. */
  | "documentId";

/** The tokens of a signed-in user. */
export interface Session {
  accessToken: string;
  refreshToken: string;
}

export interface TodoqlClientOptions {
  /** The GraphQL endpoint, e.g. `https://api.example.com/graphql`. */
  url: string;
  /** The subscription endpoint (default: `url` + `/ws`, over ws: or wss:). */
  wsUrl?: string;
  /** Default `documentId`. */
  transport?: Transport;
  /** Send queries as GET (persisted ones make short, stable URLs). Mutations always POST. */
  getForQueries?: boolean;
  /** The session to start with (e.g. read from a cookie). */
  session?: Session | null;
  /** Called whenever the tokens change (sign-in, refresh, sign-out): persist them there. */
  onSession?: (session: Session | null) => void;
  /** A WebSocket implementation where there is no global one (Node.js 20: the `ws` package). */
  webSocketImpl?: unknown;
  fetch?: typeof fetch;
}

/** One error of a GraphQL response. */
export interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A request that failed: the first error's message and `extensions.code`, and all errors. */
export class TodoqlError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly errors: GraphQLErrorLike[],
    readonly status: number,
  ) {
    super(errors[0]?.message ?? `HTTP ${status}`);
    this.name = "TodoqlError";
    this.code = errors[0]?.extensions?.code;
  }
}

/** A generated document: its id (`sha256:…`) is in `__meta__.hash`. */
type Persistable = DocumentNode & { __meta__?: { hash?: string } };
type Body = { data?: unknown; errors?: GraphQLErrorLike[] };

function operationOf(document: DocumentNode): OperationDefinitionNode {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === "OperationDefinition");
  if (!operation) throw new Error("a document without an operation");
  return operation;
}

/** The document's text as the manifest holds it, so that its SHA-256 is the document's id. */
function manifestText(document: DocumentNode): string {
  return printExecutableGraphQLDocument(document);
}

/** Creates a client. */
export function createTodoqlClient(options: TodoqlClientOptions) {
  const transport = options.transport ?? "documentId";
  const doFetch = options.fetch ?? fetch;
  let session = options.session ?? null;
  let refreshing: Promise<Session> | undefined;

  function setSession(next: Session | null) {
    session = next;
    options.onSession?.(next);
  }

  /** The wire parameters of one request in a transport. */
  function parameters(document: Persistable, variables: unknown, as: Transport, withText = false) {
    const operationName = operationOf(document).name?.value;
    const hash = document.__meta__?.hash;
    if (as !== "text" && !hash) throw new Error("run GraphQL Code Generator with persistedDocuments on");
    const params: Record<string, unknown> = { operationName, variables };
    if (as === "text") params.query = print(document);
    if (as === "documentId") params.documentId = hash;
    if (as === "apq") {
      params.extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
      if (withText) params.query = manifestText(document);
    }
    return params;
  }

  async function send(document: Persistable, variables: unknown, withText: boolean, token?: string) {
    const params = parameters(document, variables, transport, withText);
    const headers: Record<string, string> = { accept: "application/graphql-response+json, application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    if (options.getForQueries && !withText && operationOf(document).operation === "query") {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) {
        if (value !== undefined) query.set(key, typeof value === "string" ? value : JSON.stringify(value));
      }
      response = await doFetch(`${options.url}?${query}`, { method: "GET", headers });
    } else {
      headers["content-type"] = "application/json";
      response = await doFetch(options.url, { method: "POST", headers, body: JSON.stringify(params) });
    }
    const body = (await response.json().catch(() => ({}))) as Body;
    return { status: response.status, body };
  }

  /** Runs one operation; refreshes the access token once on a 401 and retries. */
  function request<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    return execute(document, variables, true);
  }

  async function execute<R, V>(document: TypedDocumentNode<R, V>, variables: V, signedIn: boolean): Promise<R> {
    const doc: Persistable = document;
    const attempt = async (token?: string) => {
      let answer = await send(doc, variables, false, token);
      // APQ: the server has not seen this document yet (or forgot it): send the text once.
      if (transport === "apq" && answer.body.errors?.some((e) => e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND")) {
        answer = await send(doc, variables, true, token);
      }
      return answer;
    };
    let answer = await attempt(signedIn ? session?.accessToken : undefined);
    if (answer.status === 401 && signedIn && session) {
      answer = await attempt((await refresh()).accessToken);
    }
    if (answer.body.errors?.length || answer.body.data == null) {
      throw new TodoqlError(answer.body.errors ?? [], answer.status);
    }
    return answer.body.data as R;
  }

  /** Exchanges the refresh token for new tokens, once however many requests ask at the same time. */
  function refresh(): Promise<Session> {
    refreshing ??= (async () => {
      const refreshToken = session?.refreshToken;
      if (!refreshToken) throw new TodoqlError([{ message: "not signed in" }], 401);
      try {
        // Sent without the (expired) access token: refreshSession needs none.
        const { refreshSession } = await execute(Operations.RefreshSession, { refreshToken }, false);
        setSession({ accessToken: refreshSession.accessToken, refreshToken: refreshSession.refreshToken });
        return refreshSession;
      } catch (error) {
        setSession(null);
        throw error;
      }
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  // Subscriptions: one lazy socket; graphql-ws reconnects and resubscribes after a close it may
  // retry, 4403 included. The server closes with 4403 when the socket's token expires, so the
  // next connection_init refreshes the token first.
  let tokenRejected = false;
  let socket: SocketClient | undefined;
  function sockets(): SocketClient {
    socket ??= createSocketClient({
      url: options.wsUrl ?? `${options.url.replace(/^http/, "ws")}/ws`,
      webSocketImpl: options.webSocketImpl,
      connectionParams: async () => {
        if (tokenRejected && session) await refresh().catch(() => undefined);
        tokenRejected = false;
        return session ? { Authorization: `Bearer ${session.accessToken}` } : {};
      },
      on: {
        closed: (event) => {
          tokenRejected = (event as { code?: number }).code === 4403;
        },
      },
      retryWait: async (retries) => {
        // A rejected token is fixed by the refresh above: reconnect at once; back off otherwise.
        const wait = tokenRejected ? 0 : Math.min(30_000, 1000 * 2 ** retries) + Math.random() * 1000;
        await new Promise((resolve) => setTimeout(resolve, wait));
      },
    });
    return socket;
  }

  function remember(payload: Session) {
    setSession({ accessToken: payload.accessToken, refreshToken: payload.refreshToken });
  }

  return {
    request,
    /** The current tokens. */
    get session() {
      return session;
    },
    async signUp(input: Types.SignUpInput) {
      const { signUp } = await request(Operations.SignUp, { input });
      remember(signUp);
      return signUp;
    },
    async signIn(input: Types.SignInInput) {
      const { signIn } = await request(Operations.SignIn, { input });
      remember(signIn);
      return signIn;
    },
    /** Revokes the refresh token and forgets the session. */
    async signOut() {
      if (session) await request(Operations.SignOut, { refreshToken: session.refreshToken });
      setSession(null);
    },
    refresh,
    me: async () => (await request(Operations.Me, {})).me,
    /** A page of the caller's todos: `first`/`after` forwards, `last`/`before` backwards. */
    todos: async (args: Types.TodosQueryVariables = {}) => (await request(Operations.Todos, args)).todos,
    todo: async (id: string) => (await request(Operations.TodoById, { id })).todo,
    createTodo: async (input: Types.CreateTodoInput) => (await request(Operations.CreateTodo, { input })).createTodo,
    updateTodo: async (id: string, input: Types.UpdateTodoInput) =>
      (await request(Operations.UpdateTodo, { id, input })).updateTodo,
    toggleTodo: async (id: string) => (await request(Operations.ToggleTodo, { id })).toggleTodo,
    deleteTodo: async (id: string) => (await request(Operations.DeleteTodo, { id })).deleteTodo,
    /** Streams the caller's todo changes until the returned function is called. */
    subscribeTodoEvents(handlers: {
      next: (event: Types.TodoEventsSubscription["todoEvents"]) => void;
      error?: (error: unknown) => void;
      complete?: () => void;
    }): () => void {
      const document: Persistable = Operations.TodoEvents;
      // Over the socket the text goes along with the hash: a subscription is sent once, and a
      // TRUSTED_DOCUMENTS_ONLY server still finds it by its id.
      // graphql-ws insists on a string `query`: empty, the server goes by the id.
      const payload = { query: "", ...parameters(document, {}, transport, true) };
      return sockets().subscribe<Types.TodoEventsSubscription>(payload, {
        next: (result) => {
          if (result.data) handlers.next(result.data.todoEvents);
          else handlers.error?.(new TodoqlError((result.errors ?? []) as GraphQLErrorLike[], 200));
        },
        error: (error) => handlers.error?.(error),
        complete: () => handlers.complete?.(),
      });
    },
    /** Closes the subscription socket. */
    async dispose() {
      await socket?.dispose();
    },
  };
}

/** A todoql client. */
export type TodoqlClient = ReturnType<typeof createTodoqlClient>;
