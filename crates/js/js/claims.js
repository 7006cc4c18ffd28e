// The JavaScript half of crates/js/src/claims.rs: the verified claims as an object, from their
// text members laid end to end in `text`: iss, sub, jti, the one audience, then type, the
// lengths of the first four given in UTF-16 code units. Members in name order, as the JSON path
// writes them.
export function claims(text, iss, sub, jti, aud, exp, iat, nbf) {
  const subAt = iss, jtiAt = subAt + sub, audAt = jtiAt + jti, typeAt = audAt + aud;
  const out = { aud: [text.slice(audAt, typeAt)], exp, iat, iss: text.slice(0, subAt), jti: text.slice(jtiAt, audAt) };
  if (nbf !== undefined) out.nbf = nbf;
  out.sub = text.slice(subAt, jtiAt);
  out.type = text.slice(typeAt);
  return out;
}
