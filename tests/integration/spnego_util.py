"""SPNEGO and Negotiate for the tests: just enough DER to read and write
the tokens (RFC 4178 section 4.2, RFC 4121 section 4.1), and the
Negotiate values of Proxy-Authenticate (RFC 4559 section 4).

	d = spnego_util.spnego_parse(base64.b64decode(tok))
	d["kind"], d.get("mechTypes"), d.get("responseToken"), ...
"""

from harness import hget

SPNEGO_OID = bytes.fromhex("2b0601050502")		# 1.3.6.1.5.5.2
NTLMSSP_OID = bytes.fromhex("2b06010401823702020a")	# 1.3.6.1.4.1.311.2.2.10
KRB5_OID = bytes.fromhex("2a864886f712010202")	# 1.2.840.113554.1.2.2


# ---------------------------------------------------------------------------
# Proxy-Authenticate.

def offers(headers):
	"""The schemes of the Proxy-Authenticate lines, in order."""
	return [v.split()[0] if v.split() else "" for v in
	    hget(headers, "proxy-authenticate")]


def neg_values(headers):
	"""The Negotiate Proxy-Authenticate values: "" for the bare scheme,
	else the base64 token."""
	out = []
	for v in hget(headers, "proxy-authenticate"):
		w = v.split(None, 1)
		if w and w[0].lower() == "negotiate":
			out.append(w[1].strip() if len(w) > 1 else "")
	return out


# ---------------------------------------------------------------------------
# DER.

def der(b, i):
	"""(tag, start, end) of the DER element at i; ValueError when its
	length runs past the end of b (IndexError when b ends in its head)."""
	tag = b[i]
	ln = b[i + 1]
	i += 2
	if ln & 0x80:
		n = ln & 0x7f
		ln = int.from_bytes(b[i:i + n], "big")
		i += n
	if i + ln > len(b):
		raise ValueError("DER element runs past the end")
	return tag, i, i + ln


def der_tlv(tag, body):
	"""The DER element tag with contents body (definite length)."""
	n = len(body)
	if n < 0x80:
		ln = bytes([n])
	else:
		b = n.to_bytes((n.bit_length() + 7) // 8, "big")
		ln = bytes([0x80 | len(b)]) + b
	return bytes([tag]) + ln + body


# ---------------------------------------------------------------------------
# SPNEGO (RFC 4178 section 4.2) and the Kerberos mechanism's tokens.

def spnego_parse(tok):
	"""A NegTokenInit (inside the GSS-API framing) or a NegTokenResp as
	a dict: kind "init" or "resp", mechTypes (list of OID bytes),
	mechToken / responseToken, negState, supportedMech, mechListMIC.
	Only the fields present, each under its context tag [n] (constructed,
	context-specific, as DER's EXPLICIT tagging makes it).  None if tok is
	neither."""
	try:
		d = {}
		tag, s, e = der(tok, 0)
		if tag == 0x60:
			t2, os_, oe = der(tok, s)
			if t2 != 0x06 or tok[os_:oe] != SPNEGO_OID:
				return None
			tag, s, e = der(tok, oe)
			if tag != 0xa0:
				return None
			d["kind"] = "init"
		elif tag == 0xa1:
			d["kind"] = "resp"
		else:
			return None
		tag, s, e = der(tok, s)
		if tag != 0x30:
			return None
		i = s
		while i < e:
			ctag, cs, ce = der(tok, i)
			vtag, vs, ve = der(tok, cs)
			n = ctag & 0x1f if ctag & 0xe0 == 0xa0 else None
			if d["kind"] == "init" and n == 0 and vtag == 0x30:
				mechs = []
				j = vs
				while j < ve:
					mt, ms, me = der(tok, j)
					mechs.append(tok[ms:me])
					j = me
				d["mechTypes"] = mechs
			elif d["kind"] == "init" and n == 2 and vtag == 0x04:
				d["mechToken"] = tok[vs:ve]
			elif d["kind"] == "init" and n == 3 and vtag == 0x04:
				d["mechListMIC"] = tok[vs:ve]
			elif d["kind"] == "resp" and n == 0 and vtag == 0x0a:
				d["negState"] = int.from_bytes(tok[vs:ve], "big")
			elif d["kind"] == "resp" and n == 1 and vtag == 0x06:
				d["supportedMech"] = tok[vs:ve]
			elif d["kind"] == "resp" and n == 2 and vtag == 0x04:
				d["responseToken"] = tok[vs:ve]
			elif d["kind"] == "resp" and n == 3 and vtag == 0x04:
				d["mechListMIC"] = tok[vs:ve]
			i = ce
		return d
	except (ValueError, IndexError):
		return None


def neg_token_resp(tok):
	"""A NegTokenResp as spnego_parse's dict, or None if tok is not
	one."""
	d = spnego_parse(tok)
	return d if d is not None and d["kind"] == "resp" else None


def spnego_init_ntlm(type1):
	"""A NegTokenInit offering NTLMSSP alone, with the type 1."""
	mechs = der_tlv(0x30, der_tlv(0x06, NTLMSSP_OID))
	init = der_tlv(0x30, der_tlv(0xa0, mechs) + der_tlv(0xa2,
	    der_tlv(0x04, type1)))
	return der_tlv(0x60, der_tlv(0x06, SPNEGO_OID) + der_tlv(0xa0, init))


def spnego_resp_ntlm(type3, mic=None):
	"""A NegTokenResp carrying the type 3 (and a mechListMIC)."""
	body = der_tlv(0xa2, der_tlv(0x04, type3))
	if mic is not None:
		body += der_tlv(0xa3, der_tlv(0x04, mic))
	return der_tlv(0xa1, der_tlv(0x30, body))


def krb5_token(tok, tok_id, app_tag):
	"""True if tok is an RFC 4121 section 4.1 InitialContextToken:
	[APPLICATION 0] { OID krb5, TOK_ID, a Kerberos message whose
	[APPLICATION n] tag is app_tag }."""
	try:
		tag, s, e = der(tok, 0)
		if tag != 0x60:
			return False
		tag, os_, oe = der(tok, s)
		return tag == 0x06 and tok[os_:oe] == KRB5_OID and \
		    tok[oe:oe + 2] == tok_id and tok[oe + 2] == app_tag
	except (ValueError, IndexError):
		return False


def krb5_ap_rep(tok):
	"""An AP-REP (TOK_ID 02 00, [APPLICATION 15])."""
	return krb5_token(tok, b"\x02\x00", 0x6f)
