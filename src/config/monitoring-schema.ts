import { configDefaults } from './defaults.js';
import { durationSchema } from './duration.js';

const d = configDefaults.monitoring;

const duration = durationSchema;

type DetectorDefaults = (typeof d.detectors)[keyof typeof d.detectors];

/** One detector: on by default, writing an event when it fires; alert and ban are chosen per detector. */
const detector = (defaults: DetectorDefaults, actions: readonly string[], thresholdHint: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      enabled: { type: 'boolean', default: true },
      shadow: { type: 'boolean', default: false },
      threshold: {
        type: 'integer',
        minimum: 1,
        maximum: 1_000_000,
        default: defaults.threshold,
        hint: thresholdHint,
      },
      window: { ...duration(defaults.window), default: defaults.window },
      actions: {
        type: 'array',
        uniqueItems: true,
        default: [],
        items: {
          enum: actions,
          hint:
            actions.length === 1
              ? 'this detector can only alert: it has no address, consumer or key to ban'
              : 'use alert (the webhook in monitoring.alerts) and/or ban',
        },
      },
      banFor: { ...duration(defaults.banFor), default: defaults.banFor },
    },
  }) as const;

const both = ['alert', 'ban'] as const;
const alertOnly = ['alert'] as const;

/** src/observe: metrics, health, security events, detectors and alerts. */
export const monitoringSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    scrapeToken: {
      type: 'string',
      minLength: 1,
      examples: ['env:GATEHOUSE_SCRAPE_TOKEN'],
      hint: 'write env:NAME or file:PATH holding a random token of at least 32 characters',
    },
    events: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        destination: { type: 'string', minLength: 1, hint: 'write stdout, stderr or a file path' },
        bufferSize: { type: 'integer', minimum: 0, maximum: 1_000_000, default: d.eventBufferSize },
      },
    },
    probeInterval: { ...duration(d.probeInterval), default: d.probeInterval },
    detectors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        failedLoginsPerAddress: detector(
          d.detectors.failedLoginsPerAddress,
          both,
          'failed logins from one address',
        ),
        failedLoginsPerUsername: detector(
          d.detectors.failedLoginsPerUsername,
          alertOnly,
          'failed logins for one username',
        ),
        credentialStuffing: detector(
          d.detectors.credentialStuffing,
          both,
          'distinct usernames failing from one address',
        ),
        enumeration: detector(d.detectors.enumeration, both, 'distinct paths one caller got 403/404 for'),
        keyManyAddresses: detector(
          d.detectors.keyManyAddresses,
          both,
          'distinct addresses one API key came from',
        ),
        plaintextCredential: {
          ...detector(d.detectors.plaintextCredential, both, ''),
          properties: {
            ...detector(d.detectors.plaintextCredential, both, '').properties,
            threshold: {
              const: 1,
              default: 1,
              hint: 'one credential sent in plaintext is exposed: the threshold is 1',
            },
          },
        },
        upstreamErrors: {
          ...detector(
            d.detectors.upstreamErrors,
            alertOnly,
            'a percentage of failed upstream requests, 1 to 100',
          ),
          properties: {
            ...detector(d.detectors.upstreamErrors, alertOnly, '').properties,
            threshold: {
              type: 'integer',
              minimum: 1,
              maximum: 100,
              default: d.detectors.upstreamErrors.threshold,
              hint: 'a percentage of failed upstream requests, 1 to 100',
            },
            minRequests: {
              type: 'integer',
              minimum: 1,
              maximum: 1_000_000,
              default: d.upstreamErrorsMinRequests,
            },
          },
        },
        maxTracked: { type: 'integer', minimum: 100, maximum: 10_000_000, default: d.maxTracked },
      },
    },
    alerts: {
      type: 'object',
      additionalProperties: false,
      required: ['webhook'],
      properties: {
        webhook: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'secret'],
          properties: {
            url: {
              type: 'string',
              pattern: '^(https://|http://(127\\.[0-9.]+|\\[::1\\]|localhost)(:[0-9]{1,5})?(/|$))',
              examples: ['https://alerts.example.com/gatehouse'],
              hint: 'use https://, or http:// only to a loopback address (a receiver on the same host)',
            },
            secret: {
              type: 'string',
              minLength: 1,
              examples: ['env:GATEHOUSE_ALERT_SECRET'],
              hint: 'write env:NAME or file:PATH holding at least 32 random bytes (the HMAC key the receiver checks)',
            },
            ca: { type: 'string', minLength: 1, hint: 'a path to a PEM CA bundle' },
            timeout: { ...duration(d.alerts.timeout), default: d.alerts.timeout },
            retries: { type: 'integer', minimum: 0, maximum: 10, default: d.alerts.retries },
            maxPerMinute: { type: 'integer', minimum: 1, maximum: 10_000, default: d.alerts.maxPerMinute },
            dedup: { ...duration(d.alerts.dedup), default: d.alerts.dedup },
          },
        },
      },
    },
  },
} as const;

interface DetectorEntry {
  readonly enabled: boolean;
  readonly shadow: boolean;
  readonly threshold: number;
  readonly window: string;
  readonly actions: readonly ('alert' | 'ban')[];
  readonly banFor: string;
}

/** `monitoring:` once it has passed the schema, defaults filled in. */
export interface MonitoringEntry {
  readonly enabled: boolean;
  readonly scrapeToken?: string;
  readonly events: { readonly destination?: string; readonly bufferSize: number };
  readonly probeInterval: string;
  readonly detectors: {
    readonly failedLoginsPerAddress: DetectorEntry;
    readonly failedLoginsPerUsername: DetectorEntry;
    readonly credentialStuffing: DetectorEntry;
    readonly enumeration: DetectorEntry;
    readonly keyManyAddresses: DetectorEntry;
    readonly plaintextCredential: DetectorEntry;
    readonly upstreamErrors: DetectorEntry & { readonly minRequests: number };
    readonly maxTracked: number;
  };
  readonly alerts?: {
    readonly webhook: {
      readonly url: string;
      readonly secret: string;
      readonly ca?: string;
      readonly timeout: string;
      readonly retries: number;
      readonly maxPerMinute: number;
      readonly dedup: string;
    };
  };
}
