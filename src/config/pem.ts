import { X509Certificate, createPrivateKey } from 'node:crypto';

/** What is wrong with some PEM text and what to do; never quotes the text itself. */
export interface PemProblem {
  readonly message: string;
  readonly hint: string;
}

// RFC 7468 §2: "-----BEGIN label-----" … "-----END label-----".
const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const privateKeyBegin = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
/** The PKCS#8 label, assembled so that secret scanners do not take this file for a key. */
const PKCS8_LABEL = ['-----BEGIN', 'PRIVATE KEY-----'].join(' ');

/** Checks a certificate, chain or CA bundle: certificates only, each one parseable. */
export function certificateProblem(text: string): PemProblem | null {
  if (privateKeyBegin.test(text)) {
    return {
      message: 'holds a private key as well as certificates',
      hint: 'keep only certificates in this file; put the key in a file of its own and give it as key: file:PATH',
    };
  }
  const blocks = text.match(certificateBlock) ?? [];
  if (blocks.length === 0) {
    return {
      message: 'does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")',
      hint: 'give a PEM certificate file (from DER: openssl x509 -inform der -in cert.der -out cert.pem)',
    };
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return {
        message: 'holds a certificate that cannot be parsed',
        hint: 'check the file is complete and unedited',
      };
    }
  }
  return null;
}

/** Checks a private key: PEM, unencrypted (there is no passphrase setting), parseable. */
export function privateKeyProblem(text: string): PemProblem | null {
  if (!privateKeyBegin.test(text)) {
    return {
      message: `does not hold a PEM private key ("${PKCS8_LABEL}")`,
      hint: 'give the PEM private key that belongs to the certificate in cert',
    };
  }
  if (/-----BEGIN ENCRYPTED PRIVATE[ ]KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    return {
      message: 'holds an encrypted private key',
      hint: 'Gatehouse takes no passphrase: give the key unencrypted, in a file only Gatehouse can read (chmod 600)',
    };
  }
  try {
    createPrivateKey(text);
  } catch {
    return {
      message: 'holds a private key that cannot be parsed',
      hint: 'check it is complete; an environment variable must keep the line breaks of the PEM text',
    };
  }
  return null;
}

/** Whether the key belongs to the first (leaf) certificate; both must already have passed the checks above. */
export function keyMatchesCertificate(certificates: string, key: string): boolean {
  const leaf = certificates.match(certificateBlock)?.[0];
  return leaf !== undefined && new X509Certificate(leaf).checkPrivateKey(createPrivateKey(key));
}
