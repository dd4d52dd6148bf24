// The todoql playground: a sign-in bar and GraphiQL, wired together.
//
// Loaded after React, ReactDOM, GraphiQL's standalone bundle and examples.js (all served by
// todoql itself). The page's Content-Security-Policy allows no inline script, so everything the
// page does is here.
//
// Tokens: the access token lives only in this page's memory. The refresh token lives in
// memory too, unless the user ticks "Stay signed in": then, and only then, it is also kept
// in localStorage so that a reload signs the user back in. Tokens never go in a URL.
//
// The token bar: from a session, the user can create a personal access token with chosen
// scopes and make the editor's requests carry it instead of the session, to see what such a
// token may do, and switch back. Those tokens live in this page's memory only.

(function () {
  "use strict";

  // The CSP admits one kind of inline style: GraphiQL's dialogs add a <style> element (to lock
  // scrolling) stamped with this global. todoql puts a fresh nonce on this script's tag.
  if (document.currentScript && document.currentScript.nonce) {
    window.__webpack_nonce__ = document.currentScript.nonce;
  }

  const REFRESH_KEY = "todoql:refreshToken";
  /** Refresh up to this long before the access token expires rather than send a dying one. */
  const EXPIRY_MARGIN_MS = 30 * 1000;
  const PAYLOAD = "accessToken refreshToken tokenType expiresIn user { id email name }";

  const body = document.body;
  const endpoint = new URL(body.dataset.endpoint || "/graphql", location.href).href;
  const subscriptionEndpoint = (function () {
    const url = new URL(body.dataset.subscriptionEndpoint || "/graphql/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  })();

  const form = document.getElementById("todoql-sign-in");
  const signedIn = document.getElementById("todoql-signed-in");
  const status = document.getElementById("todoql-status");
  const tokenSelect = document.getElementById("todoql-token");
  const tokenMaker = document.getElementById("todoql-new-token");
  const tokenForm = document.getElementById("todoql-token-form");
  const secret = document.getElementById("todoql-secret");

  // ---- the session --------------------------------------------------------------------

  /** @type {null | {accessToken: string|null, refreshToken: string, refreshAt: number, user: null | {id: string, email: string, name: string}}} */
  let session = null;
  /** Whether the user chose to stay signed in (the refresh token is then in localStorage). */
  let stay = false;
  /** The refresh in flight, shared: refresh tokens rotate, so two at once would revoke the session. */
  let refreshing = null;
  /** @type {{id: string, name: string, scopes: string[], token: string}[]} personal access tokens made here */
  let tokens = [];
  /** The personal access token the editor's requests carry instead of the session, if any. */
  let acting = null;

  /** An error the server reported, with its `extensions.code`. */
  class ApiError extends Error {
    constructor(message, code, extensions) {
      super(message);
      this.code = code;
      this.extensions = extensions || {};
    }
  }

  /** Runs one of the public auth operations (no Authorization header: they need none). */
  async function callPublic(query, variables) {
    return call(query, variables, null);
  }

  /** Runs an operation with `token` as the bearer token, or none; returns its data. */
  async function call(query, variables, token) {
    let response;
    const headers = { "content-type": "application/json", accept: "application/graphql-response+json, application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      throw new ApiError("The server cannot be reached.", "NETWORK");
    }
    let result;
    try {
      result = await response.json();
    } catch (error) {
      throw new ApiError(`The server answered ${response.status}.`, "HTTP");
    }
    if (result.errors && result.errors.length) {
      const first = result.errors[0];
      const extensions = first.extensions || {};
      throw new ApiError(first.message || "Request failed.", extensions.code, extensions);
    }
    return result.data;
  }

  /** What to tell the user about a failed sign-in, sign-up or refresh. */
  function explain(error) {
    switch (error.code) {
      case "INVALID_CREDENTIALS":
        return "Wrong email or password.";
      case "EMAIL_TAKEN":
        return "That email already has an account: sign in instead.";
      case "RATE_LIMITED":
        return `Too many attempts: try again in ${error.extensions.retryAfter || "a few"} seconds.`;
      case "INVALID_REFRESH_TOKEN":
        return "Your session has ended: sign in again.";
      default:
        return error.message;
    }
  }

  /** Makes an AuthPayload the current session. */
  function adopt(payload) {
    session = {
      accessToken: payload.accessToken,
      refreshToken: payload.refreshToken,
      // When to refresh: EXPIRY_MARGIN_MS before expiry, or halfway through a shorter life.
      refreshAt: Date.now() + Math.max(payload.expiresIn * 1000 - EXPIRY_MARGIN_MS, payload.expiresIn * 500),
      user: payload.user,
    };
    storeRefreshToken();
    render();
  }

  function storeRefreshToken() {
    try {
      if (stay && session) localStorage.setItem(REFRESH_KEY, session.refreshToken);
      else localStorage.removeItem(REFRESH_KEY);
    } catch (error) {
      // Storage may be disabled (private mode, policies): the session still works in memory.
    }
  }

  function storedRefreshToken() {
    try {
      return localStorage.getItem(REFRESH_KEY);
    } catch (error) {
      return null;
    }
  }

  /** Forgets the session here (and in localStorage), and the tokens made with it. */
  function forget(message, kind) {
    session = null;
    tokens = [];
    acting = null;
    for (const option of [...tokenSelect.options]) if (option.value) option.remove();
    tokenSelect.value = "";
    secret.hidden = true;
    document.getElementById("todoql-secret-value").value = "";
    storeRefreshToken();
    render();
    say(message || "", kind);
  }

  /** Refreshes the session once, however many callers ask at the same time; true on success. */
  function refresh() {
    if (!refreshing) {
      const run = () => rotate();
      // Tabs that share a stored refresh token take turns, so none presents a rotated one.
      const locked = navigator.locks ? navigator.locks.request("todoql-refresh", run) : run();
      refreshing = locked.finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function rotate() {
    // Another tab may have rotated the stored token since this one read it.
    const token = (stay && storedRefreshToken()) || (session && session.refreshToken);
    if (!token) return false;
    try {
      const data = await callPublic(
        `mutation RefreshSession($refreshToken: String!) { refreshSession(refreshToken: $refreshToken) { ${PAYLOAD} } }`,
        { refreshToken: token },
      );
      adopt(data.refreshSession);
      return true;
    } catch (error) {
      if (error.code === "INVALID_REFRESH_TOKEN") forget(explain(error), "error");
      else say(`Could not refresh the session: ${explain(error)}`, "error");
      return false;
    }
  }

  /** The token the editor's requests carry: the chosen personal access token, else the session's. */
  async function requestToken() {
    return acting ? acting.token : accessToken();
  }

  /** The access token to send now (refreshed first when it is about to expire), or null. */
  async function accessToken() {
    await restored;
    if (!session) return null;
    if (!session.accessToken || Date.now() >= session.refreshAt) await refresh();
    return session ? session.accessToken : null;
  }

  // Another tab that stays signed in rotated or removed the shared refresh token.
  addEventListener("storage", (event) => {
    if (!stay || !session || (event.key !== REFRESH_KEY && event.key !== null)) return;
    const token = storedRefreshToken();
    if (token) session.refreshToken = token;
    else forget("Signed out in another window.");
  });

  // ---- the sign-in bar ----------------------------------------------------------------

  function say(message, kind) {
    status.textContent = message;
    if (kind) status.dataset.kind = kind;
    else delete status.dataset.kind;
  }

  function setMode(mode) {
    form.dataset.mode = mode;
    for (const element of form.querySelectorAll("[data-only]")) {
      const shown = element.dataset.only === mode;
      element.hidden = !shown;
      for (const input of element.querySelectorAll("input")) input.disabled = !shown;
    }
    form.elements.name.required = mode === "sign-up";
    form.elements.password.autocomplete = mode === "sign-up" ? "new-password" : "current-password";
    say("");
  }

  function render() {
    const user = session && session.user;
    form.hidden = Boolean(session);
    signedIn.hidden = !user;
    if (user) {
      document.getElementById("todoql-user-name").textContent = user.name;
      document.getElementById("todoql-user-email").textContent = `<${user.email}>`;
    }
  }

  form.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action=mode]");
    if (button) setMode(form.dataset.mode === "sign-in" ? "sign-up" : "sign-in");
  });

  form.addEventListener("submit", async (event) => {
    // Never let the browser submit the form: the password would leave in a request body
    // this page does not control (the CSP's form-action 'none' blocks it as well).
    event.preventDefault();
    const fields = form.elements;
    const mode = form.dataset.mode;
    const buttons = form.querySelectorAll("button[type=submit]");
    for (const button of buttons) button.disabled = true;
    say(mode === "sign-up" ? "Creating your account…" : "Signing in…");
    stay = fields.stay.checked;
    try {
      const input = { email: fields.email.value, password: fields.password.value };
      let payload;
      if (mode === "sign-up") {
        input.name = fields.name.value;
        const data = await callPublic(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ${PAYLOAD} } }`, { input });
        payload = data.signUp;
      } else {
        const data = await callPublic(`mutation SignIn($input: SignInInput!) { signIn(input: $input) { ${PAYLOAD} } }`, { input });
        payload = data.signIn;
      }
      fields.password.value = "";
      adopt(payload);
      say(mode === "sign-up" ? "Account created. Run an operation below." : "Signed in.");
    } catch (error) {
      const message = explain(error);
      const field = error.extensions.field;
      say(field && !message.includes(field) ? `${message} (${field})` : message, "error");
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });

  document.getElementById("todoql-sign-out").addEventListener("click", async () => {
    const token = session && session.refreshToken;
    forget("Signed out.");
    if (!token) return;
    try {
      await callPublic("mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }", { refreshToken: token });
    } catch (error) {
      // The session is gone from this page either way; the server forgets it at expiry.
    }
  });

  setMode("sign-in");

  // ---- the token bar ------------------------------------------------------------------

  /** Makes the editor's requests carry `token` (a personal access token made here), or the session's. */
  function act(token) {
    acting = token;
    tokenSelect.value = token ? token.id : "";
    say(
      token
        ? `Requests now carry the token “${token.name}” (${token.scopes.join(", ")}): fields it may not use answer FORBIDDEN.`
        : "Requests now carry your session's token (every scope).",
    );
  }

  tokenSelect.addEventListener("change", () => {
    act(tokens.find((token) => token.id === tokenSelect.value) || null);
  });

  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = tokenForm.elements;
    const scopes = [...tokenForm.querySelectorAll("input[name=scope]:checked")].map((input) => input.value);
    if (!scopes.length) return say("Choose at least one scope for the token.", "error");
    const button = tokenForm.querySelector("button[type=submit]");
    button.disabled = true;
    say("Creating a personal access token…");
    try {
      const input = { name: fields.tokenName.value, scopes, expiresInDays: Number(fields.days.value) };
      const data = await call(
        "mutation CreateAccessToken($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { token accessToken { id name scopes expiresAt } } }",
        { input },
        await accessToken(),
      );
      const created = data.createAccessToken;
      const token = { ...created.accessToken, token: created.token };
      tokens.push(token);
      const option = document.createElement("option");
      option.value = token.id;
      option.textContent = `${token.name} (${token.scopes.join(" ")})`;
      tokenSelect.append(option);
      document.getElementById("todoql-secret-value").value = token.token;
      secret.hidden = false;
      tokenMaker.open = false;
      act(token);
    } catch (error) {
      const field = error.extensions.field;
      say(`Could not create the token: ${error.message}${field ? ` (${field})` : ""}`, "error");
    } finally {
      button.disabled = false;
    }
  });

  /** Settles once a stored session (if the user chose to stay signed in) has been restored. */
  const restored = (function () {
    const token = storedRefreshToken();
    if (!token) {
      render();
      return Promise.resolve();
    }
    stay = true;
    form.elements.stay.checked = true;
    session = { accessToken: null, refreshToken: token, refreshAt: 0, user: null };
    form.hidden = true;
    say("Restoring your session…");
    return rotate().then((ok) => {
      if (ok) say("");
    });
  })();

  // ---- GraphiQL -----------------------------------------------------------------------

  /** Whether `headers` (from GraphiQL's headers editor) already has an Authorization header. */
  function hasAuthorization(headers) {
    return Object.keys(headers || {}).some((name) => name.toLowerCase() === "authorization");
  }

  /**
   * GraphiQL's HTTP transport. Adds the bearer token unless the headers editor set its own,
   * and answers a 401 with one refresh and one retry.
   */
  async function authorizedFetch(url, init) {
    const headers = new Headers(init.headers);
    if (!headers.has("accept")) headers.set("accept", "application/graphql-response+json, application/json");
    const ours = !headers.has("authorization");
    let sent = null;
    if (ours) {
      sent = await requestToken();
      if (sent) headers.set("authorization", `Bearer ${sent}`);
    }
    const response = await fetch(url, { ...init, headers });
    // A personal access token is not refreshed: a 401 means it was revoked or expired.
    if (response.status !== 401 || !sent || (acting && sent === acting.token)) return response;
    // Another request may have refreshed the session already; otherwise refresh it now.
    const renewed = session && session.accessToken !== sent ? true : await refresh();
    if (!renewed || !session) return response;
    headers.set("authorization", `Bearer ${session.accessToken}`);
    return fetch(url, { ...init, headers });
  }

  function isSubscription(params, options) {
    const graphql = GraphiQL.GraphQL;
    if (options && options.documentAST && graphql && graphql.getOperationAST) {
      const operation = graphql.getOperationAST(options.documentAST, params.operationName || undefined);
      return Boolean(operation && operation.operation === "subscription");
    }
    return /^\s*subscription\b/m.test(params.query || "");
  }

  const transport = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: subscriptionEndpoint,
    fetch: authorizedFetch,
    // todoql does not stream @defer/@stream results: plain JSON responses only.
    enableIncrementalDelivery: false,
  });

  /** A sign-in or sign-up run from the editor signs the playground in as well. */
  function notice(params, result) {
    const data = result && typeof result === "object" && result.data;
    if (!data) return;
    for (const value of Object.values(data)) {
      if (value && typeof value === "object" && value.accessToken && value.refreshToken && value.expiresIn && value.user && value.user.email && value.user.name) {
        stay = form.elements.stay.checked;
        adopt(value);
        say(`Signed in as ${value.user.email} by the operation you ran.`);
        return;
      }
    }
    if (session && data.signOut === true && params.variables && params.variables.refreshToken === session.refreshToken) {
      forget("Signed out by the operation you ran.");
    }
  }

  async function fetcher(params, options) {
    if (isSubscription(params, options)) {
      // The socket authenticates with connection_init's payload, which GraphiQL builds from
      // the request headers: {"Authorization": "Bearer <token>"}. If /graphql/ws is not
      // there, the subscription reports an error and the rest of the page carries on.
      const headers = { ...((options && options.headers) || {}) };
      if (!hasAuthorization(headers)) {
        const token = await requestToken();
        if (token) headers.Authorization = `Bearer ${token}`;
      }
      return transport(params, { ...options, headers });
    }
    const result = await transport(params, options);
    notice(params, result);
    return result;
  }

  /**
   * GraphiQL's storage (tabs, history, settings), in localStorage under "graphiql:", but with
   * password values blanked in any stored variables: history must not keep passwords.
   */
  const storage = (function () {
    const prefix = "graphiql:";
    const password = /("password"\s*:\s*)"(?:[^"\\]|\\.)*"/g;
    const scrub = (text) => (typeof text === "string" ? text.replace(password, '$1""') : text);
    function clean(key, value) {
      if (/:(variables)$/.test(key)) return scrub(value);
      if (!/:(tabState|queries|favorites)$/.test(key)) return value;
      try {
        return JSON.stringify(JSON.parse(value), (name, inner) => (name === "variables" ? scrub(inner) : inner));
      } catch (error) {
        return value;
      }
    }
    const keys = () => Object.keys(localStorage).filter((key) => key.startsWith(prefix));
    return {
      getItem: (key) => localStorage.getItem(key),
      setItem: (key, value) => localStorage.setItem(key, clean(key, value)),
      removeItem: (key) => localStorage.removeItem(key),
      clear: () => keys().forEach((key) => localStorage.removeItem(key)),
      get length() {
        return keys().length;
      },
    };
  })();

  function hasLocalStorage() {
    try {
      return typeof localStorage !== "undefined" && localStorage !== null;
    } catch (error) {
      return false;
    }
  }

  const examples = window.todoqlExamples;
  const persisted = hasLocalStorage() ? storage : null;
  const graphiql = React.createElement(
    GraphiQL,
    {
      fetcher,
      defaultTabs: examples.tabs,
      // GraphiQL fills the first tab's variables editor from this, not from defaultTabs;
      // passed only while no tabs are saved, or it would add a tab on every load.
      variables: persisted && persisted.getItem("graphiql:tabState") ? undefined : examples.tabs[0].variables,
      defaultQuery: examples.newTab,
      defaultEditorToolsVisibility: "variables",
      // Headers typed into the headers editor are never saved: they may hold a token.
      shouldPersistHeaders: false,
      storage: persisted,
    },
    React.createElement(GraphiQL.Logo, null, "todoql"),
  );

  const root = document.getElementById("todoql-graphiql");
  root.replaceChildren();
  ReactDOM.createRoot(root).render(graphiql);

  // Open the documentation explorer, so the schema's descriptions greet the user. (GraphiQL 4's
  // `visiblePlugin` prop marks it visible but leaves its pane collapsed: click its button.)
  (function openDocs(tries) {
    const button = root.querySelector('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
    if (button) button.click();
    else if (tries > 0) setTimeout(() => openDocs(tries - 1), 50);
  })(100);
})();
