/**
 * OpenAPI fragments the end-to-end tests share, as YAML text to splice under `paths:` of a
 * document of their own.
 */

/** The body a login posts: a username and a password, each bounded. Indented for an operation. */
export const LOGIN_BODY_YAML = `      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [username, password]
              properties:
                username: { type: string, maxLength: 64 }
                password: { type: string, maxLength: 64 }
`;

/** POST /login: public, marked as a login (limits, backoff, detectors), 200 or 401. */
export const LOGIN_PATH_YAML = `  /login:
    post:
      x-gatehouse-public: true
      x-gatehouse-login: { usernameField: username }
${LOGIN_BODY_YAML}      responses:
        '200': { description: logged in }
        '401': { description: wrong credentials }
`;
