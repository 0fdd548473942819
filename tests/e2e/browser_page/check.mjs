// Calls GET /api/options/config on the fake server and reports as the page title: "PASS", or
// "FAIL: <why>". Query parameters: api (the server's base URL; default: this page's own origin),
// key (sent as X-Session-API-Key, which makes a cross-origin call need a preflight).
const params = new URLSearchParams(location.search);
const api = params.get("api") ?? "";
const key = params.get("key");

async function check() {
  const response = await fetch(`${api}/api/options/config`, {
    headers: key === null ? {} : { "X-Session-API-Key": key },
  });
  if (!response.ok) return `FAIL: HTTP ${response.status}`;
  const body = await response.json();
  return body !== null && typeof body === "object" ? "PASS" : `FAIL: unexpected body ${JSON.stringify(body)}`;
}

check().then(
  (verdict) => { document.title = verdict; },
  (error) => { document.title = `FAIL: ${error.name}: ${error.message}`; },
);
