#!/usr/bin/python3
"""A SAML 2.0 identity provider for the tests, on lasso (python3-lasso).

It does what Entra ID or Okta do for an SP-initiated sign-in, without a
login form: the user is whoever the test chose through /control.

Usage:
  saml_idp.py --dir DIR --port-file F [--host 127.0.0.1]
              [--name idp.example.test] [--sp-metadata FILE]
  saml_idp.py --selftest DIR      check this IdP against a lasso SP

At start it makes its signing key and certificate (and a second,
untrusted pair) with the openssl CLI in DIR unless they are there, binds
an ephemeral port on --host, writes its metadata to DIR/idp-metadata.xml
(SSO URL http://NAME:PORT/sso) and then the port to --port-file.

Endpoints:
  GET  /metadata   the IdP metadata
  GET  /sso?SAMLRequest=..&RelayState=..&SigAlg=..&Signature=..
                   SAML bindings 3.4 (HTTP-Redirect).  The AuthnRequest
                   must be signed with RSA-SHA256 by a key of the SP
                   metadata (verified by lasso and again with openssl);
                   its Destination must be our SSO URL, its Issuer the
                   SP, its ACS URL (if any) one of the SP's, RelayState
                   at most 80 bytes (bindings 3.4.3).  Answers 200 with
                   an auto-submitting HTML form (SAMLResponse, RelayState)
                   to the SP's ACS, or 400 with the reason.
  POST /control    JSON: {"user": "alice@example.test", "mutate": NAME,
                   "groups": [...], "groups_attribute": NAME,
                   "sp_metadata_file": PATH}; every key optional, kept
                   until changed; answers the settings.
  GET  /last       JSON: the last form sent (action, SAMLResponse,
                   RelayState, the decoded xml, request_id, mutate, user)
                   so a test can replay it.
  GET  /events     JSON: every /sso outcome so far ({"ok": bool, "why",
                   "request_id", "mutate"}).

Mutations make exactly one thing wrong in the Response that lasso built
(see MUTATIONS); those that change signed content re-sign the assertion
and the response with xmlsec1 as lasso had signed them, so that only the
named defect remains.  "resigned" changes nothing but goes through that
re-signing, a control that must be accepted like "none".
"""

import argparse
import base64
import calendar
import copy
import html
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lasso
from lxml import etree

NS = {
	"samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
	"saml": "urn:oasis:names:tc:SAML:2.0:assertion",
	"ds": "http://www.w3.org/2000/09/xmldsig#",
	"md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
DS = "{%s}" % NS["ds"]
SAML = "{%s}" % NS["saml"]
SAMLP = "{%s}" % NS["samlp"]
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
HOK = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
ENTRA_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ENTITY_ID = "https://idp.example.test/saml"
OTHER_SP = "https://other-sp.example.test/saml"
OTHER_ACS = "https://other-sp.example.test/saml/acs"
EVIL_USER = "admin@example.test"	# who a wrapped assertion claims
XMLSEC1 = "/usr/bin/xmlsec1"
OPENSSL = "/usr/bin/openssl"

# name -> what it makes wrong; "accept" ones must be accepted by an SP.
MUTATIONS = {
	"none": "nothing: lasso's signed Response as is",
	"resigned": "nothing, but re-signed through xmlsec1 (control)",
	"audience_multi_ok": "one AudienceRestriction, two Audiences, "
	    "ours second (valid: core 2.5.1.4)",
	"expired": "Conditions and SubjectConfirmationData NotOnOrAfter "
	    "an hour ago",
	"expired_scd": "only SubjectConfirmationData NotOnOrAfter an hour ago",
	"expired_cond": "only Conditions NotOnOrAfter an hour ago",
	"notyet": "Conditions NotBefore in an hour",
	"audience": "the Audience is another SP",
	"audience_extra": "a second AudienceRestriction not naming us",
	"audience_none": "no AudienceRestriction at all",
	"destination": "Response Destination is another ACS",
	"recipient": "SubjectConfirmationData Recipient is another ACS",
	"bearer": "SubjectConfirmation Method is holder-of-key",
	"unsolicited": "no InResponseTo (Response and "
	    "SubjectConfirmationData)",
	"inresponseto": "InResponseTo names another request",
	"inresponseto_scd": "only SubjectConfirmationData InResponseTo names "
	    "another request",
	"issuer": "Issuer (Response and Assertion) is another IdP",
	"domain": "NameID in evil.test",
	"two_assertions": "two assertions, both signed",
	"reuse_id": "the assertion ID of the previous response, in a "
	    "fresh response to this request (a replay only the SP's "
	    "assertion-ID cache can catch)",
	"untrusted_key": "signed by a key that is not in the metadata "
	    "(its certificate in KeyInfo)",
	"unsigned": "no Signature anywhere",
	"altered": "one byte of the NameID changed after signing",
	"wrap_extra": "an unsigned evil assertion before the signed one "
	    "(response signature dropped)",
	"wrap_after": "an unsigned evil assertion after the signed one "
	    "(response signature dropped; a verifier that checks the first "
	    "assertion passes it)",
	"wrap_extensions": "the signed assertion moved into "
	    "samlp:Extensions, an evil assertion in its place",
	"wrap_object": "an evil assertion in place, the signed one inside "
	    "its ds:Signature/ds:Object",
	"wrap_response": "an evil outer Response whose ds:Signature/"
	    "ds:Object holds the signed Response",
	"dtd": "a DOCTYPE with an internal entity (signatures intact)",
}
ACCEPTED = ("none", "resigned", "audience_multi_ok")

# Mutations done on the XML before (re-)signing.
PRESIGN = ("resigned", "audience_multi_ok", "expired", "expired_scd",
    "expired_cond", "inresponseto_scd",
    "notyet", "audience", "audience_extra", "audience_none", "destination",
    "recipient", "bearer", "unsolicited", "inresponseto", "issuer",
    "domain", "two_assertions", "untrusted_key", "reuse_id")


def log(msg):
	sys.stderr.write("saml_idp: %s\n" % msg)
	sys.stderr.flush()


def isotime(t):
	return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def pem_body(pem):
	"""The base64 of the first certificate in a PEM text."""
	m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
	    pem, re.S)
	return "".join(m.group(1).split())


def make_keypair(key, crt, cn):
	if os.path.exists(key) and os.path.exists(crt):
		return
	subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
	    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn],
	    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def idp_metadata(sso_url, cert_pem):
	return """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>%s</md:NameIDFormat>
    <md:SingleSignOnService Binding="%s" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
""" % (ENTITY_ID, pem_body(cert_pem), EMAIL_FORMAT, REDIRECT_BINDING,
	    html.escape(sso_url))


class SpInfo:
	"""What the IdP needs from the SP metadata, read with lxml (lasso
	has it too, but we check the AuthnRequest against it ourselves)."""

	def __init__(self, text):
		self.text = text
		root = etree.fromstring(text.encode() if isinstance(text, str)
		    else text, etree.XMLParser(resolve_entities=False,
		    no_network=True))
		sps = root.xpath("//md:SPSSODescriptor", namespaces=NS)
		if len(sps) != 1:
			raise ValueError("SP metadata: %d SPSSODescriptor" % len(sps))
		ed = sps[0].getparent()
		self.entity_id = ed.get("entityID")
		self.acs = [e.get("Location") for e in sps[0].xpath(
		    "md:AssertionConsumerService[@Binding='%s']" % POST_BINDING,
		    namespaces=NS)]
		self.certs = []
		for kd in sps[0].xpath("md:KeyDescriptor", namespaces=NS):
			if kd.get("use") not in (None, "signing"):
				continue
			for c in kd.xpath(".//ds:X509Certificate", namespaces=NS):
				self.certs.append("".join(c.text.split()))
		self.authn_requests_signed = sps[0].get("AuthnRequestsSigned")
		if not self.entity_id or not self.acs or not self.certs:
			raise ValueError("SP metadata: no entityID, POST ACS or "
			    "signing certificate")


class Idp:
	def __init__(self, d, name, host, sp_metadata=None):
		self.dir = d
		self.name = name
		self.host = host
		self.lock = threading.Lock()
		self.key = os.path.join(d, "idp.key")
		self.crt = os.path.join(d, "idp.crt")
		self.bad_key = os.path.join(d, "untrusted.key")
		self.bad_crt = os.path.join(d, "untrusted.crt")
		make_keypair(self.key, self.crt, "idp.example.test")
		make_keypair(self.bad_key, self.bad_crt, "idp.example.test")
		self.settings = {"user": "alice@example.test", "mutate": "none",
		    "groups": [], "groups_attribute": ENTRA_GROUPS,
		    "sp_metadata_file": sp_metadata}
		self.last = None
		self.prev_assertion_id = None
		self.events = []
		self.server = None	# lasso.Server, per SP metadata
		self.sp = None
		self.sp_stamp = None

	def start_metadata(self, port):
		self.port = port
		self.sso_url = "http://%s:%d/sso" % (self.name, port)
		self.metadata = idp_metadata(self.sso_url, open(self.crt).read())
		path = os.path.join(self.dir, "idp-metadata.xml")
		with open(path + ".tmp", "w") as f:
			f.write(self.metadata)
		os.rename(path + ".tmp", path)
		return path

	# -- the SP, from its metadata file (re-read when it changes) --
	def load_sp(self):
		path = self.settings.get("sp_metadata_file")
		if not path:
			raise ValueError("no SP metadata configured")
		st = os.stat(path)
		stamp = (path, st.st_mtime_ns, st.st_size)
		if stamp == self.sp_stamp:
			return
		text = open(path).read()
		sp = SpInfo(text)
		srv = lasso.Server.newFromBuffers(self.metadata,
		    open(self.key).read(), None, open(self.crt).read())
		srv.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
		srv.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, text)
		self.server, self.sp, self.sp_stamp = srv, sp, stamp
		log("SP %s loaded from %s" % (sp.entity_id, path))

	# -- the AuthnRequest --
	def verify_query_signature(self, raw):
		"""Bindings 3.4.4.1: the signature covers the octets
		"SAMLRequest=v&RelayState=v&SigAlg=v" as they were sent (still
		URL-encoded).  Verified with openssl against every signing
		certificate of the SP metadata, independently of lasso."""
		parts = {}
		for p in raw.split("&"):
			k, _, v = p.partition("=")
			if k in parts:
				raise ValueError("duplicate query parameter " + k)
			parts[k] = v
		for k in ("SAMLRequest", "SigAlg", "Signature"):
			if k not in parts:
				raise ValueError("AuthnRequest: no " + k +
				    " (unsigned request)")
		sigalg = urllib.parse.unquote_plus(parts["SigAlg"])
		if sigalg != RSA_SHA256:
			raise ValueError("AuthnRequest: SigAlg %s, not RSA-SHA256"
			    % sigalg)
		rs = parts.get("RelayState")
		if rs is not None and len(urllib.parse.unquote_plus(rs)) > 80:
			raise ValueError("RelayState longer than 80 bytes "
			    "(bindings 3.4.3)")
		signed = "SAMLRequest=" + parts["SAMLRequest"]
		if rs is not None:
			signed += "&RelayState=" + rs
		signed += "&SigAlg=" + parts["SigAlg"]
		sig = base64.b64decode(urllib.parse.unquote_plus(
		    parts["Signature"]), validate=True)
		with tempfile.TemporaryDirectory(dir=self.dir) as td:
			sf = os.path.join(td, "sig")
			with open(sf, "wb") as f:
				f.write(sig)
			for i, c in enumerate(self.sp.certs):
				cf = os.path.join(td, "c%d.pem" % i)
				pf = os.path.join(td, "p%d.pem" % i)
				with open(cf, "w") as f:
					f.write("-----BEGIN CERTIFICATE-----\n%s\n"
					    "-----END CERTIFICATE-----\n" % c)
				subprocess.run([OPENSSL, "x509", "-in", cf, "-pubkey",
				    "-noout", "-out", pf], check=True,
				    stdout=subprocess.DEVNULL,
				    stderr=subprocess.DEVNULL)
				r = subprocess.run([OPENSSL, "dgst", "-sha256",
				    "-verify", pf, "-signature", sf],
				    input=signed.encode(), stdout=subprocess.PIPE,
				    stderr=subprocess.PIPE)
				if r.returncode == 0:
					return
		raise ValueError("AuthnRequest: signature does not verify "
		    "(openssl)")

	def sso(self, raw):
		"""The whole SSO step; (html, form dict) or ValueError."""
		self.load_sp()
		self.verify_query_signature(raw)
		login = lasso.Login(self.server)
		login.setSignatureVerifyHint(
		    lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE)
		try:
			login.processAuthnRequestMsg(raw)
		except lasso.Error as e:
			raise ValueError("AuthnRequest refused by lasso: %s" % e)
		req = login.request
		if login.remoteProviderId != self.sp.entity_id:
			raise ValueError("AuthnRequest Issuer %r is not the SP" %
			    login.remoteProviderId)
		# Bindings 3.4.5.2: a signed request names where it was sent.
		if req.destination != self.sso_url:
			raise ValueError("AuthnRequest Destination %r is not %s" %
			    (req.destination, self.sso_url))
		if req.assertionConsumerServiceURL is not None and \
		    req.assertionConsumerServiceURL not in self.sp.acs:
			raise ValueError("AuthnRequest ACS URL %r not in the SP "
			    "metadata" % req.assertionConsumerServiceURL)
		if req.protocolBinding not in (None, POST_BINDING):
			raise ValueError("AuthnRequest ProtocolBinding %r" %
			    req.protocolBinding)
		try:
			issued = calendar.timegm(time.strptime(
			    req.issueInstant[:19], "%Y-%m-%dT%H:%M:%S"))
		except (TypeError, ValueError):
			raise ValueError("AuthnRequest IssueInstant %r" %
			    req.issueInstant)
		if abs(issued - time.time()) > 300:
			raise ValueError("AuthnRequest IssueInstant %s is off by "
			    "more than 5 minutes" % req.issueInstant)
		s = self.settings
		login.validateRequestMsg(True, True)
		now = time.time()
		login.buildAssertion(lasso.SAML2_AUTHN_CONTEXT_PASSWORD,
		    isotime(now), None, isotime(now - 60), isotime(now + 300))
		a = login.assertion
		a.subject.nameID.content = s["user"]
		a.subject.nameID.format = EMAIL_FORMAT
		if s["groups"]:
			attr = lasso.Saml2Attribute()
			attr.name = s["groups_attribute"]
			attr.nameFormat = lasso.SAML2_ATTRIBUTE_NAME_FORMAT_URI
			vals = []
			for g in s["groups"]:
				v = lasso.Saml2AttributeValue()
				tn = lasso.MiscTextNode.newWithString(g)
				tn.textChild = True
				v.any = [tn]
				vals.append(v)
			attr.attributeValue = vals
			st = lasso.Saml2AttributeStatement()
			st.attribute = [attr]
			a.attributeStatement = [st]
		login.buildAuthnResponseMsg()
		acs = login.msgUrl
		relay = login.msgRelayState
		body = login.msgBody
		mut = s["mutate"]
		if mut != "none":
			xml = base64.b64decode(body)
			xml = self.mutate(xml, mut, now)
			body = base64.b64encode(xml).decode()
		if mut != "reuse_id":
			m = re.search(rb"<saml:Assertion[^>]* ID=\"([^\"]+)\"",
			    base64.b64decode(body))
			self.prev_assertion_id = m.group(1).decode() if m else None
		form = {"action": acs, "SAMLResponse": body, "RelayState": relay,
		    "request_id": req.iD, "mutate": mut, "user": s["user"],
		    "xml": base64.b64decode(body).decode("utf-8", "replace")}
		return autopost(form), form

	# -- mutations --
	def mutate(self, xml, mut, now):
		if mut == "altered":
			# One byte of the NameID, after signing (both signatures
			# now fail their digest).
			i = xml.index(b">" + self.settings["user"].encode() + b"<")
			b = xml[i + 1]
			return xml[:i + 1] + bytes([b + 1 if b != 0x7a else 0x61]) + \
			    xml[i + 2:]
		if mut == "dtd":
			# Nothing referenced: the signatures stay valid, only the
			# DTD is wrong (profiles 4.1.4.5 is silent; SAML core 1.3.x
			# and every hardening guide: no DTD in protocol messages).
			decl = b""
			if xml.startswith(b"<?xml"):
				decl, _, xml = xml.partition(b"?>")
				decl += b"?>\n"
			return decl + b"<!DOCTYPE samlp:Response [\n" \
			    b"<!ENTITY idp \"" + ENTITY_ID.encode() + \
			    b"\">\n]>\n" + xml
		parser = etree.XMLParser(remove_blank_text=False,
		    resolve_entities=False, no_network=True)
		root = etree.fromstring(xml, parser)
		a = root.find(SAML + "Assertion")
		if mut in PRESIGN:
			strip_signatures(root)
			key, crt = self.key, self.crt
			if mut == "untrusted_key":
				key, crt = self.bad_key, self.bad_crt
			extra = presign(root, a, mut, now, self.settings["user"],
			    self.prev_assertion_id)
			# The assertions first: the response's digest covers them
			# with their signatures.
			for i in [a.get("ID")] + [x.get("ID") for x in extra] + \
			    [root.get("ID")]:
				root = sign_node(root, i, key, crt, self.dir)
			return serialize(root)
		if mut == "unsigned":
			strip_signatures(root)
			return serialize(root)
		if mut.startswith("wrap_"):
			return serialize(wrap(root, a, mut))
		raise ValueError("unknown mutation " + mut)


def autopost(form):
	"""The HTTP-POST binding's form (bindings 3.5.4), submitted by script
	on load; a noscript button for browsers without it."""
	return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing in</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="%s">
<input type="hidden" name="SAMLResponse" value="%s"/>
<input type="hidden" name="RelayState" value="%s"/>
<noscript><input type="submit" value="Continue"/></noscript>
</form>
</body></html>
""" % (html.escape(form["action"]), html.escape(form["SAMLResponse"]),
	    html.escape(form["RelayState"] or ""))


def serialize(root):
	return b'<?xml version="1.0"?>\n' + etree.tostring(root)


def strip_signatures(root):
	for s in list(root.iter(DS + "Signature")):
		s.getparent().remove(s)


def new_id():
	return "_" + secrets.token_hex(16).upper()


def presign(root, a, mut, now, user, prev_id):
	"""Change the Response before it is signed again; the extra nodes
	to sign (besides the assertion and the response)."""
	conds = a.find(SAML + "Conditions")
	scd = a.find(SAML + "Subject/" + SAML + "SubjectConfirmation/" +
	    SAML + "SubjectConfirmationData")
	aud_r = conds.find(SAML + "AudienceRestriction")
	extra = []
	if mut == "expired":
		conds.set("NotBefore", isotime(now - 7200))
		conds.set("NotOnOrAfter", isotime(now - 3600))
		scd.set("NotOnOrAfter", isotime(now - 3600))
	elif mut == "expired_scd":
		scd.set("NotOnOrAfter", isotime(now - 3600))
	elif mut == "expired_cond":
		conds.set("NotBefore", isotime(now - 7200))
		conds.set("NotOnOrAfter", isotime(now - 3600))
	elif mut == "notyet":
		conds.set("NotBefore", isotime(now + 3600))
		conds.set("NotOnOrAfter", isotime(now + 7200))
	elif mut == "audience":
		aud_r.find(SAML + "Audience").text = OTHER_SP
	elif mut == "audience_multi_ok":
		other = etree.Element(SAML + "Audience")
		other.text = OTHER_SP
		aud_r.insert(0, other)
	elif mut == "audience_extra":
		r2 = etree.SubElement(conds, SAML + "AudienceRestriction")
		etree.SubElement(r2, SAML + "Audience").text = OTHER_SP
		conds.remove(r2)
		aud_r.addnext(r2)
	elif mut == "audience_none":
		conds.remove(aud_r)
	elif mut == "destination":
		root.set("Destination", OTHER_ACS)
	elif mut == "recipient":
		scd.set("Recipient", OTHER_ACS)
	elif mut == "bearer":
		scd.getparent().set("Method", HOK)
	elif mut == "unsolicited":
		del root.attrib["InResponseTo"]
		del scd.attrib["InResponseTo"]
	elif mut == "inresponseto":
		other = new_id()
		root.set("InResponseTo", other)
		scd.set("InResponseTo", other)
	elif mut == "inresponseto_scd":
		scd.set("InResponseTo", new_id())
	elif mut == "issuer":
		for i in (root.find(SAML + "Issuer"), a.find(SAML + "Issuer")):
			i.text = "https://evil-idp.example.test/saml"
	elif mut == "domain":
		nid = a.find(SAML + "Subject/" + SAML + "NameID")
		nid.text = user.split("@")[0] + "@evil.test"
	elif mut == "reuse_id":
		if prev_id is None:
			raise ValueError("reuse_id: no earlier response")
		a.set("ID", prev_id)
	elif mut == "two_assertions":
		b = copy.deepcopy(a)
		b.set("ID", new_id())
		a.addnext(b)
		extra.append(b)
	return extra


def sign_node(root, node_id, key, crt, workdir):
	"""Sign node (enveloped, exclusive c14n, RSA-SHA256, SHA-256, the
	certificate in KeyInfo: what lasso does) with xmlsec1; the signature
	goes after the Issuer (core 5.4.1 / the schema's order).  Returns
	the new root (the document is re-parsed)."""
	node = root if root.get("ID") == node_id else \
	    root.xpath("//*[@ID=$i]", i=node_id)[0]
	sig = etree.Element(DS + "Signature", nsmap={None: NS["ds"]})
	si = etree.SubElement(sig, DS + "SignedInfo")
	etree.SubElement(si, DS + "CanonicalizationMethod", Algorithm=EXC_C14N)
	etree.SubElement(si, DS + "SignatureMethod", Algorithm=RSA_SHA256)
	ref = etree.SubElement(si, DS + "Reference", URI="#" + node.get("ID"))
	tr = etree.SubElement(ref, DS + "Transforms")
	etree.SubElement(tr, DS + "Transform", Algorithm=ENVELOPED)
	etree.SubElement(tr, DS + "Transform", Algorithm=EXC_C14N)
	etree.SubElement(ref, DS + "DigestMethod", Algorithm=SHA256)
	etree.SubElement(ref, DS + "DigestValue")
	etree.SubElement(sig, DS + "SignatureValue")
	ki = etree.SubElement(sig, DS + "KeyInfo")
	xd = etree.SubElement(ki, DS + "X509Data")
	etree.SubElement(xd, DS + "X509Certificate").text = pem_body(
	    open(crt).read())
	node.find(SAML + "Issuer").addnext(sig)
	with tempfile.TemporaryDirectory(dir=workdir) as td:
		src = os.path.join(td, "in.xml")
		out = os.path.join(td, "out.xml")
		with open(src, "wb") as f:
			f.write(serialize(root))
		r = subprocess.run([XMLSEC1, "--sign", "--privkey-pem", key,
		    "--id-attr:ID", NS["saml"] + ":Assertion",
		    "--id-attr:ID", NS["samlp"] + ":Response",
		    "--node-xpath", "//*[@ID='%s']/*[local-name()='Signature']" %
		    node.get("ID"), "--output", out, src],
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
		if r.returncode != 0:
			raise ValueError("xmlsec1 --sign failed: %s" %
			    r.stderr.decode(errors="replace")[-500:])
		with open(out, "rb") as f:
			return etree.fromstring(f.read(), etree.XMLParser(
			    resolve_entities=False, no_network=True))


def evil_copy(a):
	"""The assertion with a new ID, no signature, NameID EVIL_USER."""
	e = copy.deepcopy(a)
	e.set("ID", new_id())
	for s in list(e.iter(DS + "Signature")):
		s.getparent().remove(s)
	e.find(SAML + "Subject/" + SAML + "NameID").text = EVIL_USER
	return e


def wrap(root, a, mut):
	"""Signature wrapping (Somorovsky et al., "On Breaking SAML", 2012):
	the signed assertion survives intact somewhere a careless SP's
	signature check finds it by ID, while an evil assertion sits where
	its business logic looks.  The response signature is dropped (the
	attacker cannot redo it); the assertion's own signature still
	verifies."""
	rsig = root.find(DS + "Signature")
	if mut != "wrap_response" and rsig is not None:
		root.remove(rsig)
	evil = evil_copy(a)
	if mut == "wrap_extra":
		a.addprevious(evil)
	elif mut == "wrap_after":
		a.addnext(evil)
	elif mut == "wrap_extensions":
		a.addprevious(evil)
		root.remove(a)
		ext = etree.Element(SAMLP + "Extensions")
		ext.append(a)
		root.find(SAML + "Issuer").addnext(ext)
	elif mut == "wrap_object":
		a.addprevious(evil)
		root.remove(a)
		# The evil assertion carries a copy of the real signature
		# (same Reference URI), the real assertion in its Object.
		asig = copy.deepcopy(a.find(DS + "Signature"))
		obj = etree.SubElement(asig, DS + "Object")
		obj.append(a)
		evil.find(SAML + "Issuer").addnext(asig)
	elif mut == "wrap_response":
		# XSW1: a new outer Response; the genuine (signed) Response
		# inside the outer one's copy of its signature.
		outer = etree.Element(root.tag, nsmap=root.nsmap)
		for k, v in root.attrib.items():
			outer.set(k, v)
		outer.set("ID", new_id())
		outer.append(copy.deepcopy(root.find(SAML + "Issuer")))
		sig = copy.deepcopy(rsig) if rsig is not None else \
		    copy.deepcopy(a.find(DS + "Signature"))
		obj = etree.SubElement(sig, DS + "Object")
		obj.append(copy.deepcopy(root))
		outer.append(sig)
		outer.append(copy.deepcopy(root.find(SAMLP + "Status")))
		outer.append(evil)
		return outer
	else:
		raise ValueError("unknown mutation " + mut)
	return root


class Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	idp = None

	def log_message(self, fmt, *args):
		log("%s %s" % (self.address_string(), fmt % args))

	def answer(self, code, body, ctype="text/plain; charset=utf-8"):
		if isinstance(body, str):
			body = body.encode()
		self.send_response(code)
		self.send_header("Content-Type", ctype)
		self.send_header("Content-Length", str(len(body)))
		self.send_header("Cache-Control", "no-store")
		self.end_headers()
		self.wfile.write(body)

	def do_GET(self):
		idp = self.idp
		path, _, raw = self.path.partition("?")
		if path.startswith("http://") or path.startswith("https://"):
			# absolute-form from a proxy
			path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 \
			    else "/"
		if path == "/metadata":
			return self.answer(200, idp.metadata,
			    "application/samlmetadata+xml")
		if path == "/last":
			with idp.lock:
				return self.answer(200, json.dumps(idp.last),
				    "application/json")
		if path == "/events":
			with idp.lock:
				return self.answer(200, json.dumps(idp.events),
				    "application/json")
		if path == "/sso":
			with idp.lock:
				mut = idp.settings["mutate"]
				try:
					page, form = idp.sso(raw)
				except (ValueError, lasso.Error, OSError,
				    subprocess.SubprocessError) as e:
					idp.events.append({"ok": False, "why": str(e),
					    "mutate": mut})
					log("sso refused: %s" % e)
					return self.answer(400, "SSO refused: %s\n" % e)
				idp.last = form
				idp.events.append({"ok": True, "why": "",
				    "request_id": form["request_id"], "mutate": mut})
				log("sso: %s for %s, mutation %s, request %s" % (
				    form["action"], form["user"], mut,
				    form["request_id"]))
			return self.answer(200, page, "text/html; charset=utf-8")
		self.answer(404, "not found\n")

	def do_POST(self):
		idp = self.idp
		n = int(self.headers.get("Content-Length") or 0)
		body = self.rfile.read(n) if n else b""
		if self.path != "/control":
			return self.answer(404, "not found\n")
		try:
			req = json.loads(body or b"{}")
			if not isinstance(req, dict):
				raise ValueError("not an object")
			for k in req:
				if k not in ("user", "mutate", "groups",
				    "groups_attribute", "sp_metadata_file"):
					raise ValueError("unknown key " + k)
			if "mutate" in req and req["mutate"] not in MUTATIONS:
				raise ValueError("unknown mutation %r" % req["mutate"])
		except ValueError as e:
			return self.answer(400, "bad control request: %s\n" % e)
		with idp.lock:
			idp.settings.update(req)
			out = json.dumps(idp.settings)
		self.answer(200, out, "application/json")


def serve(a):
	idp = Idp(a.dir, a.name, a.host, a.sp_metadata)
	Handler.idp = idp
	httpd = ThreadingHTTPServer((a.host, 0), Handler)
	httpd.daemon_threads = True
	port = httpd.server_address[1]
	idp.start_metadata(port)
	if a.port_file:
		with open(a.port_file + ".tmp", "w") as f:
			f.write(str(port))
		os.rename(a.port_file + ".tmp", a.port_file)
	log("listening on %s:%d, SSO %s" % (a.host, port, idp.sso_url))
	httpd.serve_forever()


# ---------------------------------------------------------------------------
# Self-test: this IdP against a lasso SP, and xmlsec1 on what it signs.

SP_ID = "https://sp.selftest.example.test/saml"
SP_ACS = "http://sp.selftest.example.test/acs"


def sp_metadata(cert_pem):
	return """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>%s</md:NameIDFormat>
    <md:AssertionConsumerService index="0" isDefault="true"
        Binding="%s" Location="%s"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
""" % (SP_ID, pem_body(cert_pem), EMAIL_FORMAT, POST_BINDING, SP_ACS)


def xmlsec_verify(xml, crt, node_id, workdir):
	"""Does the signature inside the element with ID node_id verify
	with crt (and nothing else: no KeyInfo trust)?"""
	with tempfile.TemporaryDirectory(dir=workdir) as td:
		src = os.path.join(td, "in.xml")
		with open(src, "wb") as f:
			f.write(xml)
		r = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", crt,
		    "--enabled-key-data", "key-name",
		    "--id-attr:ID", NS["saml"] + ":Assertion",
		    "--id-attr:ID", NS["samlp"] + ":Response",
		    "--node-xpath", "//*[@ID='%s']/*[local-name()='Signature']" %
		    node_id, src], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
		return r.returncode == 0


def selftest(d):
	"""Run the IdP in this process and sign in through it with a lasso SP
	for every mutation; print "N passed, N failed"."""
	os.makedirs(d, exist_ok=True)
	res = {"pass": 0, "fail": 0}

	def check(cond, msg):
		res["pass" if cond else "fail"] += 1
		print("%s: selftest: %s" % ("ok" if cond else "FAIL", msg))
		return cond

	spk, spc = os.path.join(d, "sp.key"), os.path.join(d, "sp.crt")
	make_keypair(spk, spc, "sp.selftest")
	spmd_path = os.path.join(d, "sp-metadata.xml")
	spmd = sp_metadata(open(spc).read())
	with open(spmd_path, "w") as f:
		f.write(spmd)
	idp = Idp(d, "127.0.0.1", "127.0.0.1", spmd_path)
	Handler.idp = idp
	httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
	httpd.daemon_threads = True
	idp.start_metadata(httpd.server_address[1])
	threading.Thread(target=httpd.serve_forever, daemon=True).start()
	import urllib.request
	opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

	def http(url, data=None):
		try:
			r = opener.open(url, data=data, timeout=30)
			return r.status, r.read()
		except urllib.error.HTTPError as e:
			return e.code, e.read()

	sp = lasso.Server.newFromBuffers(spmd, open(spk).read(), None,
	    open(spc).read())
	sp.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
	sp.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP, idp.metadata)

	def authn_url(sigmethod=None):
		if sigmethod is not None:
			srv = lasso.Server.newFromBuffers(spmd, open(spk).read(),
			    None, open(spc).read())
			srv.signatureMethod = sigmethod
			srv.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP,
			    idp.metadata)
		else:
			srv = sp
		l = lasso.Login(srv)
		l.initAuthnRequest(ENTITY_ID, lasso.HTTP_METHOD_REDIRECT)
		l.request.nameIdPolicy.allowCreate = True
		l.request.nameIdPolicy.format = EMAIL_FORMAT
		l.msgRelayState = secrets.token_urlsafe(16)
		l.buildAuthnRequestMsg()
		return l, l.msgUrl

	def control(**kw):
		return http(idp.sso_url.replace("/sso", "/control"),
		    json.dumps(kw).encode())

	def form_of(page):
		m = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))
		act = re.search(r'action="([^"]*)"', page)
		return (html.unescape(act.group(1)) if act else None,
		    html.unescape(m.get("SAMLResponse", "")),
		    html.unescape(m.get("RelayState", "")))

	# Requests the IdP must refuse.
	l, url = authn_url()
	st, body = http(url)
	check(st == 200, "a signed RSA-SHA256 AuthnRequest is answered 200")
	act, resp, rs = form_of(body.decode())
	check(act == SP_ACS and rs == l.msgRelayState, "the form posts to the "
	    "ACS with the RelayState")
	st, _ = http(re.sub(r"&Signature=[^&]*", "", url))
	check(st == 400, "an unsigned AuthnRequest is refused")
	l2, url2 = authn_url(lasso.SIGNATURE_METHOD_RSA_SHA1)
	st, b2 = http(url2)
	check(st == 400 and b"RSA-SHA256" in b2, "an RSA-SHA1 AuthnRequest is "
	    "refused")
	p = url.split("&Signature=")
	sig = urllib.parse.unquote(p[1])
	bad = ("A" if sig[5] != "A" else "B")
	st, _ = http(p[0] + "&Signature=" + urllib.parse.quote(
	    sig[:5] + bad + sig[6:], safe=""))
	check(st == 400, "a tampered AuthnRequest signature is refused")
	st, _ = http(url.replace("RelayState=", "RelayState=x"))
	check(st == 400, "a changed RelayState breaks the signature")

	now = time.time()
	this_id = None
	for mut in MUTATIONS:
		control(mutate=mut, user="alice@example.test",
		    groups=["Staff", "VPN Users"])
		l, url = authn_url()
		st, body = http(url)
		if not check(st == 200, "%s: SSO answers 200" % mut):
			print("# %s" % body[:300])
			continue
		act, resp, rs = form_of(body.decode())
		xml = base64.b64decode(resp)
		prev_id, this_id = this_id, (re.search(
		    rb"<saml:Assertion[^>]* ID=\"([^\"]+)\"", xml) or [None, b""])[1]
		this_id = this_id.decode()
		try:
			root = etree.fromstring(xml, etree.XMLParser(
			    resolve_entities=False, no_network=True))
		except etree.XMLSyntaxError:
			root = None
		# lasso as the SP: the accepted ones must pass it.
		sl = lasso.Login(sp)
		sl.setSignatureVerifyHint(
		    lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE)
		try:
			sl.processAuthnResponseMsg(resp)
			sl.acceptSso()
			lasso_ok = True
		except lasso.Error as e:
			lasso_ok = False
			lasso_err = str(e)
		if mut in ACCEPTED:
			if not lasso_ok:
				print("# %s: lasso SP: %s" % (mut, lasso_err))
			check(lasso_ok and sl.assertion.subject.nameID.content ==
			    "alice@example.test", "%s: lasso as SP accepts it" % mut)
			a = root.find(SAML + "Assertion")
			check(xmlsec_verify(xml, idp.crt, a.get("ID"), d) and
			    xmlsec_verify(xml, idp.crt, root.get("ID"), d),
			    "%s: xmlsec1 verifies the assertion and the response"
			    % mut)
			vals = a.xpath(".//saml:Attribute[@Name='%s']/"
			    "saml:AttributeValue/text()" % ENTRA_GROUPS,
			    namespaces=NS)
			check(vals == ["Staff", "VPN Users"], "%s: the groups "
			    "attribute" % mut)
			auds = [r.xpath("saml:Audience/text()", namespaces=NS)
			    for r in a.iter(SAML + "AudienceRestriction")]
			want = [[OTHER_SP, SP_ID]] if mut == "audience_multi_ok" \
			    else [[SP_ID]]
			check(auds == want, "%s: audiences %r" % (mut, auds))
			continue
		if mut == "dtd":
			check(b"<!DOCTYPE" in xml and b"<!ENTITY" in xml,
			    "dtd: a DOCTYPE with an entity")
			plain = re.sub(rb"<!DOCTYPE.*?\]>", b"", xml, flags=re.S)
			r2 = etree.fromstring(plain)
			check(xmlsec_verify(plain, idp.crt, r2.get("ID"), d),
			    "dtd: signatures intact (only the DTD is wrong)")
			continue
		if mut in PRESIGN:
			a = root.find(SAML + "Assertion")
			crt = idp.bad_crt if mut == "untrusted_key" else idp.crt
			ids = [x.get("ID") for x in root.iter(SAML + "Assertion")]
			check(all(xmlsec_verify(xml, crt, i, d) for i in ids) and
			    xmlsec_verify(xml, crt, root.get("ID"), d),
			    "%s: re-signed, every signature verifies" % mut)
			if mut == "untrusted_key":
				check(not xmlsec_verify(xml, idp.crt, a.get("ID"), d),
				    "untrusted_key: not with the IdP's key")
				check(not lasso_ok, "untrusted_key: lasso refuses it")
		scd = root.find(".//saml:SubjectConfirmationData",
		    namespaces=NS) if root is not None else None
		conds = root.find(".//saml:Conditions", namespaces=NS) \
		    if root is not None else None

		def t(s):
			return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
		what = {
			"expired": lambda: t(conds.get("NotOnOrAfter")) < now - 600
			    and t(scd.get("NotOnOrAfter")) < now - 600,
			"expired_scd": lambda: t(scd.get("NotOnOrAfter")) <
			    now - 600 and t(conds.get("NotOnOrAfter")) > now,
			"expired_cond": lambda: t(conds.get("NotOnOrAfter")) <
			    now - 600 and t(scd.get("NotOnOrAfter")) > now,
			"inresponseto_scd": lambda: root.get("InResponseTo") ==
			    l.request.iD and scd.get("InResponseTo") not in
			    (None, l.request.iD),
			"notyet": lambda: t(conds.get("NotBefore")) > now + 600,
			"audience": lambda: root.xpath("//saml:Audience/text()",
			    namespaces=NS) == [OTHER_SP],
			"audience_extra": lambda: len(root.xpath(
			    "//saml:AudienceRestriction", namespaces=NS)) == 2,
			"audience_none": lambda: not root.xpath(
			    "//saml:AudienceRestriction", namespaces=NS),
			"destination": lambda: root.get("Destination") == OTHER_ACS,
			"recipient": lambda: scd.get("Recipient") == OTHER_ACS and
			    root.get("Destination") == SP_ACS,
			"bearer": lambda: scd.getparent().get("Method") == HOK,
			"unsolicited": lambda: root.get("InResponseTo") is None and
			    scd.get("InResponseTo") is None,
			"inresponseto": lambda: root.get("InResponseTo") not in
			    (None, l.request.iD) and scd.get("InResponseTo") ==
			    root.get("InResponseTo"),
			"issuer": lambda: root.findtext(SAML + "Issuer") !=
			    ENTITY_ID,
			"domain": lambda: root.findtext(".//saml:NameID",
			    namespaces=NS) == "alice@evil.test",
			"two_assertions": lambda: len(root.findall(
			    SAML + "Assertion")) == 2,
			"untrusted_key": lambda: True,
			"reuse_id": lambda: root.find(SAML + "Assertion").get("ID")
			    == prev_id,
			"unsigned": lambda: not list(root.iter(DS + "Signature")),
			"altered": lambda: root.findtext(".//saml:NameID",
			    namespaces=NS) == "blice@example.test",
			"wrap_extra": lambda: len(list(root.iter(SAML +
			    "Assertion"))) == 2,
			"wrap_after": lambda: [x.findtext(SAML + "Subject/" + SAML +
			    "NameID") for x in root.findall(SAML + "Assertion")] ==
			    ["alice@example.test", EVIL_USER],
			"wrap_extensions": lambda: root.find(SAMLP + "Extensions/" +
			    SAML + "Assertion") is not None,
			"wrap_object": lambda: root.find(SAML + "Assertion/" + DS +
			    "Signature/" + DS + "Object/" + SAML + "Assertion")
			    is not None,
			"wrap_response": lambda: root.find(DS + "Signature/" + DS +
			    "Object/" + SAMLP + "Response") is not None,
		}[mut]
		check(root is not None and what(), "%s: %s" % (mut, MUTATIONS[mut]))
		if mut.startswith("wrap_"):
			# The genuine assertion is still there and still verifies:
			# only the wrapping is wrong.
			genuine = [x for x in root.iter(SAML + "Assertion") if
			    x.findtext(SAML + "Subject/" + SAML + "NameID") ==
			    "alice@example.test"]
			check(genuine and xmlsec_verify(xml, idp.crt,
			    genuine[0].get("ID"), d), "%s: the genuine assertion "
			    "still verifies" % mut)
		if mut in ("unsigned", "altered"):
			check(not lasso_ok, "%s: lasso refuses it" % mut)
	st, last = http(idp.sso_url.replace("/sso", "/last"))
	check(st == 200 and json.loads(last).get("mutate") == list(MUTATIONS)[-1],
	    "/last gives the last form")
	httpd.shutdown()
	print("%d passed, %d failed" % (res["pass"], res["fail"]))
	return 1 if res["fail"] else 0


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--dir")
	ap.add_argument("--port-file")
	ap.add_argument("--host", default="127.0.0.1")
	ap.add_argument("--name", default="idp.example.test")
	ap.add_argument("--sp-metadata")
	ap.add_argument("--selftest", metavar="DIR")
	a = ap.parse_args()
	lasso.init()
	if a.selftest:
		sys.exit(selftest(a.selftest))
	if not a.dir:
		ap.error("--dir is required")
	serve(a)


if __name__ == "__main__":
	main()
