// Runs the GraphQL over HTTP audit suite (graphql-http's auditServer)
// against HUB_AUDIT_URL, authenticating with HUB_AUDIT_KEY, and prints one
// JSON line per audit: {"id", "name", "status", "reason"}.
import { auditServer } from 'graphql-http';

const url = process.env.HUB_AUDIT_URL;
const key = process.env.HUB_AUDIT_KEY;
if (!url || !key) {
  console.error('HUB_AUDIT_URL and HUB_AUDIT_KEY are required');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', 'Bearer ' + key);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
for (const r of results) {
  console.log(JSON.stringify({ id: r.id, name: r.name, status: r.status, reason: r.reason || '' }));
}
