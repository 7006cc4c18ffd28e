// The JavaScript half of crates/js/src/claims.rs: the verified claims as an object, from their
// text members laid end to end in `text` (`lengths` in UTF-16 code units: iss, sub, jti, each
// audience, then type). Members in name order, as the JSON path writes them.
export function claims(text, lengths, exp, iat, nbf) {
  let at = 0;
  const next = (i) => text.slice(at, (at += lengths[i]));
  const iss = next(0), sub = next(1), jti = next(2), aud = [];
  const last = lengths.length - 1;
  for (let i = 3; i < last; i++) aud.push(next(i));
  const out = { aud, exp, iat, iss, jti };
  if (nbf !== undefined) out.nbf = nbf;
  out.sub = sub;
  out.type = next(last);
  return out;
}
