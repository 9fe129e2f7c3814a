// A real OpenID provider (the `oidc-provider` package) for Podium's sign-on tests, started once per test session
// by tests/oidc/conftest.py. Two providers in this one process, each on a port of its own: "main", the provider
// Podium is configured with, and "rogue", another tenant of the same service (the same clients and the same signing
// keys, as multi-tenant services share theirs, but another issuer), whose tokens only the issuer check refuses.
//
// Clients: `podium` (the one Podium is registered as) and `other-app` (another application of the same provider,
// whose tokens are for another audience). Redirect URIs: http://podium.test/sign-in/oidc/callback (the Flask test
// client's PODIUM_BASE_URL) and the same path on 127.0.0.1 at any port (a live server in the browser test).
//
// Accounts: whatever is typed as the login on the provider's own (development) sign-in page is the account, and its
// email claim: `ada@uni.test` has that address, verified; `unverified:ada@uni.test` has it unverified. Any password.
//
// Prints one JSON line when both listen: {"main": "<issuer>", "rogue": "<issuer>"}.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const CALLBACK_PATH = '/sign-in/oidc/callback';
const REDIRECT_URIS = ['http://podium.test' + CALLBACK_PATH];
const CLIENTS = [
  { client_id: 'podium', client_secret: 'podium-secret', redirect_uris: REDIRECT_URIS },
  { client_id: 'other-app', client_secret: 'other-secret', redirect_uris: REDIRECT_URIS },
];
const UNVERIFIED = 'unverified:';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SIGNING_KEYS = { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'signing-key', alg: 'RS256', use: 'sig' }] };

async function findAccount(ctx, id) {
  const verified = !id.startsWith(UNVERIFIED);
  const email = verified ? id : id.slice(UNVERIFIED.length);
  return {
    accountId: id,
    async claims() {
      return { sub: id, email, email_verified: verified, name: `Person ${email.split('@')[0]}` };
    },
  };
}

function loopbackOrRegistered(value) {
  if (this.redirectUris.includes(value)) return true;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && url.hostname === '127.0.0.1' && url.pathname === CALLBACK_PATH && !url.search;
  } catch {
    return false;
  }
}

async function start() {
  const server = (await import('node:http')).createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: CLIENTS.map((client) => ({ ...client })),
    findAccount,
    jwks: structuredClone(SIGNING_KEYS),
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Grant: 600, Interaction: 600, Session: 600 },
  });
  provider.Client.prototype.redirectUriAllowed = loopbackOrRegistered;
  server.on('request', provider.callback());
  return issuer;
}

const issuers = { main: await start(), rogue: await start() };
process.stdout.write(JSON.stringify(issuers) + '\n');
process.stdin.on('end', () => process.exit(0)); // the test session ended: stop with it
process.stdin.resume();
