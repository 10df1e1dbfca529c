// Sign in with the Cognito hosted UI (authorization code + PKCE), then ask the API
// for its health through the authorizer.
const $ = (id) => document.getElementById(id);
const config = await (await fetch("config.json", { cache: "no-store" })).json();
const authBase = `https://${config.authDomain}`;

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function signIn() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code", client_id: config.clientId, redirect_uri: config.redirectUri,
    scope: "openid email profile", code_challenge_method: "S256", code_challenge: challenge, state,
  });
  location.assign(`${authBase}/oauth2/authorize?${query}`);
}

async function finishSignIn(params) {
  const { verifier, state } = JSON.parse(sessionStorage.getItem("pkce") || "{}");
  sessionStorage.removeItem("pkce");
  history.replaceState(null, "", location.pathname);
  if (!verifier || params.get("state") !== state) throw new Error("sign-in state does not match");
  const response = await fetch(`${authBase}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config.clientId, code: params.get("code"),
      redirect_uri: config.redirectUri, code_verifier: verifier,
    }),
  });
  if (!response.ok) throw new Error(`token exchange failed: ${response.status}`);
  const tokens = await response.json();
  sessionStorage.setItem("idToken", tokens.id_token);
}

function claims(token) {
  return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

async function check() {
  $("result").textContent = "…";
  const response = await fetch(`${config.apiUrl}graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionStorage.getItem("idToken")}` },
    body: JSON.stringify({ query: "{ health }" }),
  });
  $("result").textContent = `${response.status}\n${JSON.stringify(await response.json(), null, 2)}`;
}

function signOut() {
  sessionStorage.clear();
  const query = new URLSearchParams({ client_id: config.clientId, logout_uri: config.redirectUri });
  location.assign(`${authBase}/logout?${query}`);
}

try {
  const params = new URLSearchParams(location.search);
  if (params.has("code")) await finishSignIn(params);
  const token = sessionStorage.getItem("idToken");
  if (token && claims(token).exp * 1000 > Date.now()) {
    $("who").textContent = `Signed in as ${claims(token).email || claims(token)["cognito:username"]}.`;
    $("sign-in").hidden = true;
    $("sign-out").hidden = false;
    $("check").hidden = false;
  }
} catch (error) {
  $("result").textContent = String(error);
}
$("sign-in").addEventListener("click", signIn);
$("sign-out").addEventListener("click", signOut);
$("check").addEventListener("click", check);
