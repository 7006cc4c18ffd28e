// Prints fresh development settings for the Worker (an .env file): a random encryption key, a
// bootstrap token and a JWT secret. Used by worker-start.sh (once) and worker-test.sh (per run).
import { randomBytes } from "node:crypto";

const b64url = (n) => randomBytes(n).toString("base64url");
const lines = [
  `PORTCULLIS_ENCRYPTION_KEYS=dev1:${randomBytes(32).toString("base64")}`,
  `PORTCULLIS_BOOTSTRAP_TOKEN=pc-${b64url(16)}.${b64url(16)}`,
  `PORTCULLIS_JWT_SECRET=${b64url(32)}`,
  `PORTCULLIS_KNOWN_SCOPES=read:all,read:image,exec:notebook,write:files`,
];
console.log(lines.join("\n"));
