export type UpstreamErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_RESPONSE_TIMEOUT'
  | 'UPSTREAM_CONNECT_FAILED'
  | 'UPSTREAM_CLOSED'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_BAD_REQUEST';

/** Why an exchange with an upstream failed. The message is for operators, never for clients. */
export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;

  constructor(code: UpstreamErrorCode, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
    this.code = code;
  }

  get isTimeout(): boolean {
    return this.code === 'UPSTREAM_CONNECT_TIMEOUT' || this.code === 'UPSTREAM_RESPONSE_TIMEOUT';
  }
}

/** "CODE: message" for operators (the journey record and log), never for clients. */
export function describeError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}
