#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/seeds/<target>/) from
tests/vectors/jwt.json and a few hand-made hostile cases. http_api's seeds are instead a
minimised corpus of a short run (its input is `arbitrary`-structured): see docs/RELIABILITY.md."""
import base64, hashlib, hmac, json, os, pathlib

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = json.loads((HERE.parent / "tests/vectors/jwt.json").read_text())
TYPES = {("access",): 0, ("refresh",): 1, ("access", "api"): 2, ("api",): 3}
NOWS = {1_700_000_100: 0, 1_300_819_000: 1, 0: 2}


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write(target, name, data):
    if len(data) > 16 * 1024:  # the oversize vectors are covered by smaller cases
        return
    path = HERE / "seeds" / target
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def selector(case):
    o = case.get("options") or {"types": ["access"], "leeway": 2}
    s = TYPES.get(tuple(o["types"]), 0)
    if o.get("leeway", 2) == 0:
        s |= 4
    if "max_age" in o:
        s |= 8
    return s | (NOWS.get(case["now"], 0) << 4)


def jwt_seeds():
    for case in VECTORS["cases"]:
        token, sel = case["token"], selector(case)
        write("jwt_verify", f"{case['name']}.text", bytes([sel, 0]) + token.encode())
        parts = token.split(".")
        if len(parts) != 3:
            continue
        try:
            h, c, s = (b64d(p) for p in parts)
        except Exception:
            continue
        if b"\0" in h or b"\0" in c:
            continue
        write("jwt_verify", f"{case['name']}.parts", bytes([sel, 1]) + h + b"\0" + c + b"\0" + s)
        try:
            header = json.loads(h)
        except ValueError:
            continue
        if isinstance(header, dict):
            header.update(alg="HS512", kid="C78xEqPp1b_LswE8KyDQ_0WikUVN-jmDtHmYDwUNRpw")
            write("jwt_verify", f"{case['name']}.signed", bytes([sel, 2]) + json.dumps(header).encode() + b"\0" + c)
    claims = {"iss": "https://portcullis.example", "aud": "portcullis", "sub": "alice", "jti": "j1",
              "type": "access", "iat": 1700000000, "exp": 1700000900}
    kid = "C78xEqPp1b_LswE8KyDQ_0WikUVN-jmDtHmYDwUNRpw"
    hostile = {
        "crit": ({"alg": "HS512", "kid": kid, "typ": "JWT", "crit": ["exp"]}, claims),
        "crit-unknown": ({"alg": "HS512", "kid": kid, "crit": ["x-unknown"], "x-unknown": 1}, claims),
        "kid-long": ({"alg": "HS512", "kid": "k" * 5000}, claims),
        "kid-traversal": ({"alg": "HS512", "kid": "../../etc/passwd\u0000"}, claims),
        "kid-number": ({"alg": "HS512", "kid": 12345}, claims),
        "alg-none": ({"alg": "none", "kid": kid}, claims),
        "huge-exp": ({"alg": "HS512", "kid": kid}, dict(claims, exp=1e309)),
        "huge-int-exp": ({"alg": "HS512", "kid": kid}, dict(claims, exp=2**64 + 1)),
        "neg-iat": ({"alg": "HS512", "kid": kid}, dict(claims, iat=-2**63)),
        "jku": ({"alg": "HS512", "kid": kid, "jku": "http://evil.example/jwks", "jwk": {"kty": "oct", "k": "AA"}}, claims),
        "b64-false": ({"alg": "HS512", "kid": kid, "b64": False, "crit": ["b64"]}, claims),
    }
    for name, (header, body) in hostile.items():
        h, c = json.dumps(header).encode(), json.dumps(body).encode()
        write("jwt_verify", f"hostile-{name}.signed", bytes([0, 2]) + h + b"\0" + c)


def jwks_seeds():
    public = []
    for name, jwk in VECTORS["keys"].items():
        pub = {k: v for k, v in jwk.items() if k not in ("d", "k")}
        write("jwks_parse", f"{name}.private", json.dumps({"keys": [jwk]}))
        if jwk["kty"] != "oct":
            public.append(pub)
            write("jwks_parse", f"{name}.public", json.dumps({"keys": [pub]}))
    write("jwks_parse", "all-public", json.dumps({"keys": public}))
    write("jwks_parse", "hostile-kid", json.dumps({"keys": [dict(public[0], kid="x" * 1000)]}))
    write("jwks_parse", "duplicate-kid", json.dumps({"keys": [public[0], public[0]]}))
    write("jwks_parse", "empty", '{"keys": []}')
    write("jwks_parse", "not-array", '{"keys": {}}')
    write("jwks_parse", "enc-key", json.dumps({"keys": [dict(public[0], use="enc")]}))


def token_seeds():
    key, secret = "QUJDREVGR0hJSktMTU5PUA", "c2VjcmV0LXNlY3JldC1zZQ"
    for name, text in {
        "valid": f"pc-{key}.{secret}", "other-prefix": f"gt\ngt-{key}.{secret}",
        "extra-part": f"pc-{key}.{secret}.x", "no-dot": f"pc-{key}{secret}", "short": f"pc-{key}.abc",
        "padding": f"pc-{key}.{secret[:-2]}==", "non-canonical": f"pc-{key[:-1]}B.{secret}",
        "unicode": f"pc-{key}.\u00e9{secret[2:]}", "empty": "", "key-only": key,
    }.items():
        write("token_parse", name, text)


def record_seeds():
    key, secret = "QUJDREVGR0hJSktMTU5PUA", "c2VjcmV0LXNlY3JldC1zZQ"
    context = f"token:{key}".encode()
    data = {"key": key, "username": "alice", "token_type": "session", "scopes": ["read:all"],
            "created": 1749990000, "expires": 1750090000, "name": "Alice", "uid": 1000,
            "groups": [{"name": "g", "id": 1}]}
    stored = {"hash": b64e(hashlib.sha256(secret.encode()).digest()), "data": data}
    for name, envelope in {
        "valid": {"exp": 1750090000, "data": stored},
        "no-exp": {"exp": None, "data": stored},
        "expired": {"exp": 1, "data": stored},
        "child": {"exp": None, "data": dict(stored, derived_with="k1", data=dict(data, token_type="notebook"))},
        "wrong-key": {"exp": None, "data": dict(stored, data=dict(data, key="AAAAAAAAAAAAAAAAAAAAAA"))},
        "huge-numbers": {"exp": 2**63 - 1, "data": dict(stored, data=dict(data, created=-2**63, uid=2**63 - 1))},
    }.items():
        write("sealed_record", name, bytes([len(context)]) + context + json.dumps(envelope).encode())
    write("sealed_record", "empty-context", b"\0" + b"\x02k1" + b"\0" * 40)


if __name__ == "__main__":
    jwt_seeds()
    jwks_seeds()
    token_seeds()
    record_seeds()
    for target in sorted(os.listdir(HERE / "seeds")):
        print(target, len(os.listdir(HERE / "seeds" / target)))
