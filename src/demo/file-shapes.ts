/** The shape of `.gatehouse/demo/file-shapes.json` (README, "The demo"). */
export interface DemoCredentials {
  readonly gateway: string;
  readonly ca: string;
  readonly admin: { readonly url: string; readonly token: string };
  readonly users: readonly DemoUser[];
}

export interface DemoUser {
  readonly username: string;
  readonly password: string;
  readonly role: string;
  readonly accounts: readonly string[];
  readonly apiKeys: { readonly full: string; readonly readOnly: string } | null;
  /** Ids of the keys above, so the next start can revoke them. */
  readonly apiKeyIds: readonly string[];
}
