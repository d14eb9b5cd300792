// Drives a localorg with unmodified jsforce (the Node Salesforce client) and prints what it saw as JSON.
//
//   node jsforce_client.mjs api            LOCALORG_URL, LOCALORG_TOKEN: identity, userinfo, Bulk 2.0, paging
//   node jsforce_client.mjs authorize-url  LOCALORG_URL, LOCALORG_CLIENT_ID, LOCALORG_CALLBACK: PKCE start
//   node jsforce_client.mjs exchange       ... plus LOCALORG_CODE, LOCALORG_VERIFIER: code, refresh, revoke
//
// Each step reports {error: {name, message, errorCode}} instead of stopping, so the Python side can tell which
// part failed. The caller trusts localorg's CA through NODE_EXTRA_CA_CERTS.
import jsforce from 'jsforce';

const env = process.env;
const VERSION = '62.0';
const RECORDS = 2500; // more than one 2,000-record query page

async function step(fn) {
  try {
    return await fn();
  } catch (err) {
    return { error: { name: err.name, message: String(err.message), errorCode: err.errorCode ?? null } };
  }
}

function oauth2() {
  return new jsforce.OAuth2({
    loginUrl: env.LOCALORG_URL,
    clientId: env.LOCALORG_CLIENT_ID,
    redirectUri: env.LOCALORG_CALLBACK,
    useVerifier: true,
  });
}

async function api() {
  const conn = new jsforce.Connection({
    instanceUrl: env.LOCALORG_URL,
    accessToken: env.LOCALORG_TOKEN,
    version: VERSION,
  });
  const out = {};
  out.identity = await step(async () => {
    const id = await conn.identity(); // follows the identity URL of the resources list
    return { id: id.id, user_id: id.user_id, organization_id: id.organization_id, username: id.username };
  });
  out.userinfo = await step(async () => {
    const info = await conn.request('/services/oauth2/userinfo');
    return { sub: info.sub, preferred_username: info.preferred_username };
  });
  out.bulkIngest = await step(async () => {
    const input = Array.from({ length: RECORDS }, (_, i) => ({
      Name: `jsforce ${String(i).padStart(5, '0')}`,
      Legacy_Id__c: `JS-${i}`,
      Tier__c: 'Gold', // every record names every column: jsforce takes the CSV header from the records
    }));
    input.push({ Name: 'jsforce bad tier', Legacy_Id__c: 'JS-bad', Tier__c: 'Platinum' });
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'insert',
      input,
      pollInterval: 200,
      pollTimeout: 120000,
    });
    return {
      successful: results.successfulResults.length,
      failed: results.failedResults.map((r) => ({ legacy: r.Legacy_Id__c, error: r.sf__Error })),
      unprocessed: results.unprocessedRecords.length,
      firstId: results.successfulResults[0]?.sf__Id ?? null,
    };
  });
  out.queryAutoFetch = await step(async () => {
    const result = await conn
      .query("SELECT Id, Legacy_Id__c FROM Account WHERE Name LIKE 'jsforce %'")
      .run({ autoFetch: true, maxFetch: 100000 });
    const legacyIds = result.records.map((r) => r.Legacy_Id__c);
    return { totalSize: result.totalSize, done: result.done, count: legacyIds.length, distinct: new Set(legacyIds).size };
  });
  out.queryMore = await step(async () => {
    const first = await conn.query('SELECT Id FROM Account', {
      headers: { 'Sforce-Query-Options': 'batchSize=1000' },
    });
    const pages = [first.records.length];
    let page = first;
    while (!page.done) {
      page = await conn.queryMore(page.nextRecordsUrl);
      pages.push(page.records.length);
    }
    return { totalSize: first.totalSize, pages };
  });
  out.bulkQuery = await step(async () => {
    const stream = await conn.bulk2.query("SELECT Id, Legacy_Id__c FROM Account WHERE Name LIKE 'jsforce %'", {
      pollInterval: 200,
      pollTimeout: 120000,
    });
    const records = [];
    await new Promise((resolve, reject) => {
      stream.on('record', (record) => records.push(record));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    return { count: records.length, distinct: new Set(records.map((r) => r.Legacy_Id__c)).size };
  });
  return out;
}

async function authorizeUrl() {
  const auth = oauth2();
  const url = auth.getAuthorizationUrl({ scope: 'api id refresh_token', state: 'jsforce-state' });
  return { url, verifier: auth.codeVerifier };
}

async function exchange() {
  const auth = oauth2();
  auth.codeVerifier = env.LOCALORG_VERIFIER; // the verifier of the authorize-url run that made the code
  const conn = new jsforce.Connection({ oauth2: auth, version: VERSION });
  const out = {};
  out.authorize = await step(async () => {
    const user = await conn.authorize(env.LOCALORG_CODE);
    return { userId: user.id, organizationId: user.organizationId, hasRefreshToken: Boolean(conn.refreshToken) };
  });
  const firstToken = conn.accessToken;
  out.refreshed = await step(async () => {
    let refreshedTo = null;
    conn.on('refresh', (accessToken) => {
      refreshedTo = accessToken;
    });
    await auth.revokeToken(firstToken); // the next call gets 401 and jsforce refreshes by itself
    const result = await conn.query('SELECT COUNT() FROM Account');
    return { totalSize: result.totalSize, refreshed: refreshedTo !== null && refreshedTo !== firstToken };
  });
  out.identity = await step(async () => (await conn.identity()).username);
  const lastToken = conn.accessToken;
  out.logout = await step(async () => {
    await conn.logout(true); // revokes the refresh token, and with it every access token it handed out
    const stale = new jsforce.Connection({ instanceUrl: env.LOCALORG_URL, accessToken: lastToken, version: VERSION });
    const after = await step(() => stale.query('SELECT COUNT() FROM Account'));
    return { afterLogout: after.error ? after.error.errorCode || after.error.name : 'still works' };
  });
  return out;
}

const modes = { api, 'authorize-url': authorizeUrl, exchange };
const mode = modes[process.argv[2] ?? 'api'];
if (!mode) {
  console.error(`unknown mode ${process.argv[2]}; one of ${Object.keys(modes).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await mode()));
