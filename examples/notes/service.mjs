// Notes: a small note-taking API written the way many small services are written, with no gateway
// in mind. It is DELIBERATELY NAIVE: it is the "third-party" upstream that Gatehouse protects as it
// is, in the worked example and the end-to-end tests. Never expose it on its own.
//
// Weaknesses kept on purpose (each one is shown by test/e2e/notes-service.test.ts):
//   - POST /login answers a wrong password with 200 {"message":"wrong password"};
//   - POST /users stores `role` from the body (mass assignment: {"role":"admin"});
//   - GET /users/{username} leaks passwordHash, and builds its SQL from the path (injection);
//   - the /users/{username}/notes and /notes/{id} endpoints never check who owns what (BOLA);
//   - GET /debug/config needs no token and shows the JWT secret;
//   - any error is a 500 with its stack trace in the body; no body size limit; X-Powered-By.
//
// Usage: NOTES_JWT_SECRET=<32+ bytes> [PORT=8081] [NOTES_DB_PATH=notes.db] node examples/notes/service.mjs
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { promisify } from 'node:util';

const VERSION = '1.4.2';
const TOKEN_TTL_SECONDS = 900;
const MIN_SECRET_BYTES = 32;
const scryptAsync = promisify(scrypt);

export async function startNotesService({
  host = '127.0.0.1',
  port = 0,
  secret,
  dbPath = ':memory:',
  seedPasswords = {},
} = {}) {
  if (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new TypeError(`secret must be a string of at least ${MIN_SECRET_BYTES} bytes`);
  }
  const db = openDatabase(dbPath);
  const users = {
    alice: seedPasswords.alice ?? randomBytes(12).toString('base64url'),
    bob: seedPasswords.bob ?? randomBytes(12).toString('base64url'),
  };
  await seed(db, users);

  const hits = [];
  const app = { db, secret, dbPath, port };
  const server = http.createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '/').split('?', 2);
    hits.push({ method: req.method, path });
    handle(app, req, res, path, new URLSearchParams(query)).catch((err) => {
      // The classic leak: the whole stack trace goes back to the caller.
      if (!res.headersSent) send(res, 500, { error: err.stack });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  app.port = server.address().port;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${app.port}`,
    port: app.port,
    hits,
    users,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          db.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Routing

const routes = [
  route('GET', '/health', health),
  route('POST', '/login', login),
  route('POST', '/users', register),
  route('GET', '/users/:username', getUser, { auth: true }),
  route('GET', '/users/:username/notes', listNotes, { auth: true }),
  route('POST', '/users/:username/notes', createNote, { auth: true }),
  route('GET', '/notes/:id', getNote, { auth: true }),
  route('DELETE', '/notes/:id', deleteNote, { auth: true }),
  route('GET', '/search', search, { auth: true }),
  route('GET', '/debug/config', debugConfig),
];

function route(method, pattern, handler, { auth = false } = {}) {
  return { method, segments: pattern.split('/').slice(1), handler, auth };
}

async function handle(app, req, res, path, query) {
  res.setHeader('X-Powered-By', `notes/${VERSION}`);
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  for (const r of routes) {
    const params = r.method === req.method ? matchSegments(r.segments, parts) : null;
    if (params === null) continue;
    let user = null;
    if (r.auth) {
      user = authenticate(app, req);
      if (user === null) return send(res, 401, { message: 'unauthorized' });
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    return r.handler({ app, req, res, params, query, body, user });
  }
  return send(res, 404, { message: 'not found' });
}

function matchSegments(pattern, parts) {
  if (pattern.length !== parts.length) return null;
  const params = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) params[pattern[i].slice(1)] = parts[i];
    else if (pattern[i] !== parts[i]) return null;
  }
  return params;
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk); // no size limit
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text); // a SyntaxError here becomes a 500 with its stack
}

function send(res, status, body) {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// ---------------------------------------------------------------------------------------------
// Handlers

function health({ res }) {
  send(res, 200, { status: 'ok' });
}

async function login({ app, res, body }) {
  const row = app.db
    .prepare('SELECT username, role, password_hash FROM users WHERE username = ?')
    .get(body.username);
  if (!row || !(await checkPassword(body.password, row.password_hash))) {
    return send(res, 200, { message: 'wrong password' });
  }
  const iat = Math.floor(Date.now() / 1000);
  const token = signJwt({ sub: row.username, role: row.role, iat, exp: iat + TOKEN_TTL_SECONDS }, app.secret);
  send(res, 200, { token, expiresIn: TOKEN_TTL_SECONDS });
}

async function register({ app, res, body }) {
  if (!body.username || !body.password) {
    return send(res, 400, { message: 'username and password are required' });
  }
  if (app.db.prepare('SELECT 1 FROM users WHERE username = ?').get(body.username)) {
    return send(res, 409, { message: 'username taken' });
  }
  // Mass assignment: whatever the client sent overrides the defaults, `role` included.
  const user = { role: 'user', ...body, createdAt: new Date().toISOString() };
  app.db
    .prepare('INSERT INTO users (username, email, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(user.username, user.email ?? null, user.role, await hashPassword(user.password), user.createdAt);
  send(res, 201, {
    username: user.username,
    email: user.email ?? null,
    role: user.role,
    createdAt: user.createdAt,
  });
}

function getUser({ app, res, params }) {
  // Injection: the path parameter is pasted into the SQL text.
  const sql =
    'SELECT username, email, role, password_hash AS passwordHash, created_at AS createdAt FROM users ' +
    "WHERE username = '" +
    params.username +
    "'";
  const row = app.db.prepare(sql).get();
  if (!row) return send(res, 404, { message: 'user not found' });
  send(res, 200, row); // passwordHash included
}

function listNotes({ app, res, params }) {
  // No check that the caller is params.username.
  const rows = app.db
    .prepare('SELECT id, owner, title, body FROM notes WHERE owner = ? ORDER BY id')
    .all(params.username);
  send(res, 200, rows);
}

function createNote({ app, res, params, body }) {
  // No check that the caller is params.username: anyone can write into anyone's notes.
  const { lastInsertRowid } = app.db
    .prepare('INSERT INTO notes (owner, title, body, created_at) VALUES (?, ?, ?, ?)')
    .run(params.username, body.title ?? null, body.body ?? null, new Date().toISOString());
  send(res, 201, {
    id: Number(lastInsertRowid),
    owner: params.username,
    title: body.title ?? null,
    body: body.body ?? null,
  });
}

function getNote({ app, res, params }) {
  // No ownership check: any logged-in user reads any note by its (sequential) id.
  const note = app.db.prepare('SELECT id, owner, title, body FROM notes WHERE id = ?').get(params.id);
  if (!note) return send(res, 404, { message: 'note not found' });
  send(res, 200, note);
}

function deleteNote({ app, res, params }) {
  // No ownership check either.
  const { changes } = app.db.prepare('DELETE FROM notes WHERE id = ?').run(params.id);
  if (changes === 0) return send(res, 404, { message: 'note not found' });
  send(res, 204);
}

function search({ app, res, query, user }) {
  // The one endpoint done right: the caller's own notes, bound parameters, wildcards escaped.
  const pattern = `%${(query.get('q') ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = app.db
    .prepare(
      "SELECT id, owner, title, body FROM notes WHERE owner = ? AND (title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\') ORDER BY id",
    )
    .all(user.sub, pattern, pattern);
  send(res, 200, rows);
}

function debugConfig({ app, res }) {
  // "Handy while debugging": no token needed, and the effective configuration includes the secret.
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(NODE_ENV|PORT|HOST|NOTES_.*)$/.test(name)) env[name] = value;
  }
  Object.assign(env, { NOTES_JWT_SECRET: app.secret, NOTES_DB_PATH: app.dbPath, PORT: String(app.port) });
  send(res, 200, { env, version: VERSION });
}

// ---------------------------------------------------------------------------------------------
// Auth: HS256 JWTs (RFC 7519, JWS compact serialization RFC 7515) and scrypt passwords

function authenticate(app, req) {
  const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  return match ? verifyJwt(match[1], app.secret) : null;
}

function signJwt(claims, secret) {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${header}.${payload}.${hmac(`${header}.${payload}`, secret).toString('base64url')}`;
}

function verifyJwt(token, secret) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [header, payload, signature] = parts;
  try {
    if (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')).alg !== 'HS256') return null;
    const expected = hmac(`${header}.${payload}`, secret);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

function hmac(data, secret) {
  return createHmac('sha256', secret).update(data).digest();
}

async function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function checkPassword(password, stored) {
  if (typeof password !== 'string') return false;
  const [, salt, hash] = stored.split('$');
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// Storage

/** Node's own SQLite where the runtime has it (22.13+), better-sqlite3 where it does not. */
function openSqliteFile(dbPath) {
  const sqlite = process.getBuiltinModule?.('node:sqlite');
  if (sqlite?.DatabaseSync) return new sqlite.DatabaseSync(dbPath);
  const Database = createRequire(import.meta.url)('better-sqlite3');
  return new Database(dbPath);
}

function openDatabase(dbPath) {
  const db = openSqliteFile(dbPath);
  db.exec(`
    CREATE TABLE IF NOT EXISTS users (
      username TEXT PRIMARY KEY,
      email TEXT,
      role TEXT NOT NULL DEFAULT 'user',
      password_hash TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS notes (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      owner TEXT NOT NULL,
      title TEXT,
      body TEXT,
      created_at TEXT NOT NULL
    );
  `);
  return db;
}

async function seed(db, passwords) {
  const seeds = [
    ['alice', 'alice@example.com', 'Shopping list', 'milk, eggs, coffee'],
    ['bob', 'bob@example.com', 'Door code', 'the garage code is 4711'],
  ];
  for (const [username, email, title, body] of seeds) {
    const now = new Date().toISOString();
    // A file database keeps its users across restarts: reset the seed passwords to this run's.
    db.prepare(
      `INSERT INTO users (username, email, role, password_hash, created_at) VALUES (?, ?, 'user', ?, ?)
       ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash`,
    ).run(username, email, await hashPassword(passwords[username]), now);
    if (!db.prepare('SELECT 1 FROM notes WHERE owner = ?').get(username)) {
      db.prepare('INSERT INTO notes (owner, title, body, created_at) VALUES (?, ?, ?, ?)').run(
        username,
        title,
        body,
        now,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Run directly: node examples/notes/service.mjs

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const secret = process.env.NOTES_JWT_SECRET;
  if (!secret || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    console.error(`notes: set NOTES_JWT_SECRET to a secret of at least ${MIN_SECRET_BYTES} bytes`);
    process.exit(1);
  }
  const service = await startNotesService({
    port: process.env.PORT ? Number(process.env.PORT) : 8081,
    secret,
    dbPath: process.env.NOTES_DB_PATH || ':memory:',
  });
  console.log(
    `notes ${VERSION} listening on ${service.url} (seed users: alice / ${service.users.alice}, bob / ${service.users.bob})`,
  );
  const stop = () => service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
