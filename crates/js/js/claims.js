// The JavaScript half of crates/js/src/claims.rs: the verified claims as an object, from their
// text members laid end to end in `text` (`lengths` in UTF-16 code units: iss, sub, jti, type,
// then each audience). Members in name order, as the JSON path writes them.
export function claims(text, lengths, exp, iat, nbf) {
  let at = 0;
  const next = (i) => text.slice(at, (at += lengths[i]));
  const iss = next(0), sub = next(1), jti = next(2), type = next(3);
  const aud = [];
  for (let i = 4; i < lengths.length; i++) aud.push(next(i));
  const out = { aud, exp, iat, iss, jti };
  if (nbf !== undefined) out.nbf = nbf;
  out.sub = sub;
  out.type = type;
  return out;
}
